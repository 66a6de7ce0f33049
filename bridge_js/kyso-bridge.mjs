// @kyso/bridge — talk to the local Kyso signing agent from a web page.
// Entry point of the ES module; the classic-script build (kyso-bridge.js) is generated from the
// same sources by scripts/build-classic.mjs.

export { BRIDGE_VERSION, DEFAULTS, KysoBridge, PROTOCOL_VERSION } from "./src/bridge.mjs";
export { LNA_PERMISSION_NAMES, diagnose, localNetworkState } from "./src/discovery.mjs";
export { CLOSE_ORIGIN_NOT_ALLOWED, CLOSE_TOO_MANY_CONNECTIONS, ERROR_TABLE, KysoError } from "./src/errors.mjs";
export { base64ToBytes, bytesToBase64, compareVersions } from "./src/util.mjs";
