// @kyso/bridge — talk to the local Kyso signing agent from a web page.
// The entry point: what the package exports. scripts/build.mjs turns it and the modules it
// names into the single-file module kyso-bridge.mjs and the classic script kyso-bridge.js.

export { BRIDGE_VERSION, DEFAULTS, KysoBridge, PROTOCOL_VERSION } from "./bridge.mjs";
export { LNA_PERMISSION_NAMES, diagnose, localNetworkState } from "./discovery.mjs";
export { CLOSE_ORIGIN_NOT_ALLOWED, CLOSE_TOO_MANY_CONNECTIONS, ERROR_TABLE, KysoError } from "./errors.mjs";
export { base64ToBytes, bytesToBase64, compareVersions } from "./util.mjs";
