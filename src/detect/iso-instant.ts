const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Milliseconds since the epoch of an ISO 8601 date-time with a zone (what provmark writes), or null.
 * `Date.parse` alone is not enough: it takes other formats, and rolls "2024-02-30" over to March 1st,
 * while a NaN compares false with everything (so a priority check on it would pass).
 */
export function isoInstant(text: string): number | null {
  const m = ISO_INSTANT.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[];
  const daysInMonth = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate();
  const valid =
    (month as number) >= 1 &&
    (month as number) <= 12 &&
    (day as number) >= 1 &&
    (day as number) <= daysInMonth &&
    (hour as number) < 24 &&
    (minute as number) < 60 &&
    (second as number) < 60;
  const t = Date.parse(text);
  return valid && Number.isFinite(t) ? t : null;
}
