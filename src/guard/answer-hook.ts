/**
 * Runs the `after` hook on an upstream's prediction answer: reads the answers and the request's
 * rows, then forwards, blocks, delays or rewrites the answer as the hook decides.
 */
import type { GuardClient, GuardHooks } from "./hooks.js";
import { type Outcome, refusal } from "./outcome.js";
import type { GuardProtocol } from "./protocol.js";
import { type AnswerContext, parseAnswers } from "./protocol-answers.js";
import { decodeInputs, type InputContext } from "./protocol-inputs.js";

const MAX_DELAY_MS = 60_000;

/** Waits as a hook asked, at most a minute (a hook cannot hold a connection forever). */
export const hookDelay = (ms: number) => new Promise((r) => setTimeout(r, Math.min(MAX_DELAY_MS, Math.max(0, ms))));

export interface AfterHookInput {
  client: GuardClient;
  protocol: GuardProtocol;
  requestBody: Buffer;
  /** The upstream's answer as it would be forwarded. */
  forwarded: Outcome;
  inputCtx: InputContext;
  answerCtx: AnswerContext;
}

export async function applyAfterHook(after: NonNullable<GuardHooks["after"]>, x: AfterHookInput): Promise<Outcome> {
  const { forwarded } = x;
  const parsed = parseAnswers(x.protocol, forwarded.body.toString("utf8"), x.answerCtx);
  if (parsed === null) return { ...forwarded, note: "answers not readable" };
  const inputs = await decodeInputs(x.protocol, x.requestBody, x.inputCtx);
  const d = await after({ client: x.client, protocol: x.protocol, inputs, answers: parsed.answers });
  const note = d.note ? { note: d.note } : {};
  if (d.block !== undefined) return { ...refusal(403, d.block, "blocked"), ...note };
  if (d.delayMs) await hookDelay(d.delayMs);
  if (d.answers === undefined) return { ...forwarded, ...note };
  if (d.answers.length !== parsed.answers.length) {
    throw new Error(`the after hook returned ${d.answers.length} answers for ${parsed.answers.length}`);
  }
  return { ...forwarded, body: parsed.rewrite(d.answers), decision: "altered", altered: true, ...note };
}
