export { parseHeaders, SUSPECT_TOKEN_ENV } from "./headers.js";
export { parseRetryAfter } from "./http-exchange.js";
export { type JsonApiConfig, jsonApiConfigSchema, loadJsonApiConfig } from "./json-config.js";
export { type OpenAdapterOptions, openAdapter, PROTOCOLS } from "./open-adapter.js";
export { itemParser, type ResponseParserOptions, responseParser } from "./parse-response.js";
export type * from "./types.js";
export { FAILURE_KINDS } from "./types.js";
