export * from "./bundle.js";
export * from "./cert-extensions.js";
export * from "./diff-manifest.js";
export * from "./dsse.js";
export * from "./ignore-paths.js";
export * from "./parse-statement.js";
export * from "./path-order.js";
export * from "./statement.js";
