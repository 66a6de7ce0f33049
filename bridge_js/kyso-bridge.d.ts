// Type declarations for @kyso/bridge (kyso-bridge.mjs, the single-file module; the classic
// script kyso-bridge.js exposes the same names on window.KysoBridge).

/** Bytes a page can hand over: XML text (encoded as UTF-8), buffers, views or a Blob/File. */
export type BinaryInput = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string;
/** A digest: bytes, or a hex string. */
export type DigestInput = Uint8Array | ArrayBuffer | ArrayBufferView | string;

export interface KysoBridgeOptions {
  /** Agent host (default "127.0.0.1"). */
  host?: string;
  /** Ports tried in order (default [27443, 27444, 27445]). */
  ports?: number[];
  /** Plain-http ping ports answering GET /v1/ping (default [27442]; [] turns the ping off).
   *  Asked first; your CSP must allow http://127.0.0.1:27442 — see README "Diagnosis". */
  pingPorts?: number[];
  /** Where the bridge remembers whether the ping answered when it last found the agent, so a
   *  stopped Kyso costs one failed request (README "What the console shows"). Default: the
   *  page's localStorage; null remembers nothing. */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  /** Oldest agent version this page accepts (default "0.1.0"); older → AGENT_TOO_OLD. */
  minAgentVersion?: string;
  /** Limit for calls that do not wait for the user (default 20 000 ms). */
  callTimeoutMs?: number;
  /** Limit for calls that wait for the user: pairing, consent, PIN (default 300 000 ms). */
  interactionTimeoutMs?: number;
  /** Limit for the ping, and for each background /v1/info read (default 3 000 ms). */
  probeTimeoutMs?: number;
  /** Reconnect in the background after the agent restarts (default true). */
  reconnect?: boolean;
  /** Back-off between reconnection attempts (default [500, 1000, 2000, 5000, 10000] ms). */
  reconnectDelaysMs?: number[];
  /** Injection points for tests and non-browser hosts. */
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  permissions?: Pick<Permissions, "query">;
  origin?: string;
}

export interface AgentInfo {
  name: "Kyso";
  version: string;
  protocol: string[];
  port: number;
  /** True when the agent answers prompts from a file (tests, unattended machines). */
  scripted_prompter: boolean;
  prompter?: string;
  origin?: string;
  methods?: string[];
  [key: string]: unknown;
}

export interface TokenInfo {
  label: string;
  serial: string;
  [key: string]: unknown;
}

export interface CertificateEntry {
  /** SHA-256 thumbprint (hex): pass it as `certificate` to the signing methods. */
  thumbprint: string;
  /** The certificate, DER as base64. */
  certificate: string;
  /** Whether Kyso will sign with it (key present, valid now, usable for signing). */
  usable: boolean;
  subject?: string;
  mst?: string | null;
  cccd?: string | null;
  not_before?: string;
  not_after?: string;
  [key: string]: unknown;
}

/** The Web eID 1.0 authentication token from auth.challenge: send it to your server as is. */
export interface AuthToken {
  format: "web-eid:1.0";
  unverifiedCertificate: string;
  algorithm: string;
  signature: string;
  appVersion: string;
  [key: string]: unknown;
}

export interface SignedXml {
  /** The signed document, base64. */
  document: string;
  thumbprint: string;
  bytes(): Uint8Array;
}

export interface SignedCms {
  /** CMS SignedData, DER as base64. */
  cms: string;
  thumbprint: string;
  bytes(): Uint8Array;
}

export interface SignedHash {
  /** The raw signature, base64. */
  signature: string;
  algorithm: string;
  jose_algorithm: string;
  /** The signer's certificate, DER as base64. */
  certificate: string;
  thumbprint: string;
  bytes(): Uint8Array;
}

export interface PdfOptions {
  /** The file name shown in the consent. */
  label?: string;
  /** A visible stamp: page from 1, box [x1, y1, x2, y2] in points from the bottom-left. */
  placement?: { page: number; box: [number, number, number, number] };
  /** An existing empty signature field to sign (and stamp). */
  field?: string;
  reason?: string;
  location?: string;
  /** A certification signature: no later changes allowed. */
  certify?: boolean;
  /** Add the agent's configured timestamp (default true). */
  timestamp?: boolean;
}

export interface SignedPdf {
  /** The signed PDF, base64. */
  document: string;
  level: "PAdES-B-B" | "PAdES-B-T" | "PAdES-B-LT";
  field: string;
  visible: boolean;
  thumbprint: string;
  bytes(): Uint8Array;
}

export type BatchItem =
  | { kind: "xml"; document: BinaryInput; profile?: string; label?: string; allowEcdsa?: boolean }
  | { kind: "cms"; data?: BinaryInput; digest?: DigestInput; detached?: boolean; label?: string }
  | { kind: "hash"; digest: DigestInput; algorithm?: string; label?: string }
  | ({ kind: "pdf"; document: BinaryInput } & PdfOptions);

export interface BatchResult {
  results: Array<{ index: number; ok: boolean; result?: Record<string, unknown>; error?: KysoError }>;
  signed: number;
  failed: number;
  thumbprint: string;
}

export interface CallOptions {
  /** Override the timeout of this one call. */
  timeoutMs?: number;
}

export interface SigningOptions extends CallOptions {
  /** Thumbprint of the certificate to use; without it the user picks one in Kyso's window. */
  certificate?: string;
  /**
   * Which certificate to preselect in Kyso's picker (every criterion must match). A preference,
   * not a permission: exactly one usable match skips the picker, and the consent still shows it.
   */
  certificateFilter?: { mst?: string; issuer?: string; thumbprints?: string[]; validOnly?: boolean };
}

/** The bridge's own events and the agent notifications it passes on; nothing else reaches on(). */
export type BridgeEvent = "tokens.changed" | "sign.progress" | "connected" | "disconnected" | "status";

export interface SignProgress {
  request_id: string | number;
  done: number;
  total: number;
}

export interface TokensChanged {
  event: "inserted" | "removed";
  token: { label: string; serial: string };
}

export interface StatusEvent {
  state: "permission" | "connecting" | "opening" | "connected" | "disconnected" | "unreachable";
  port?: number;
  error?: KysoError;
}

export declare class KysoBridge {
  constructor(options?: KysoBridgeOptions);
  readonly options: Required<Omit<KysoBridgeOptions, "fetch" | "WebSocket" | "permissions" | "origin">>;
  readonly origin: string;
  /** agent.info from the last handshake, or null. */
  readonly agentInfo: AgentInfo | null;
  readonly connected: boolean;

  connect(): Promise<AgentInfo>;
  close(): void;

  on(event: "tokens.changed", handler: (payload: TokensChanged) => void): () => void;
  on(event: "sign.progress", handler: (payload: SignProgress) => void): () => void;
  on(event: "connected", handler: (info: AgentInfo) => void): () => void;
  on(event: "disconnected", handler: (error: KysoError) => void): () => void;
  on(event: "status", handler: (status: StatusEvent) => void): () => void;
  on(event: BridgeEvent, handler: (payload: any) => void): () => void;
  off(event: BridgeEvent, handler: (payload: any) => void): void;

  info(options?: CallOptions): Promise<AgentInfo>;
  listTokens(options?: CallOptions): Promise<TokenInfo[]>;
  listCertificates(options?: CallOptions): Promise<CertificateEntry[]>;
  authChallenge(nonce: string, options?: SigningOptions): Promise<AuthToken>;
  signXml(
    document: BinaryInput,
    options?: SigningOptions & { profile?: string; label?: string; allowEcdsa?: boolean },
  ): Promise<SignedXml>;
  signPdf(document: BinaryInput, options?: SigningOptions & PdfOptions): Promise<SignedPdf>;
  signCms(
    input: { data?: BinaryInput; digest?: DigestInput; detached?: boolean; hash?: string } & SigningOptions,
  ): Promise<SignedCms>;
  signHash(digest: DigestInput, options?: SigningOptions & { algorithm?: string }): Promise<SignedHash>;
  signBatch(
    items: BatchItem[],
    options?: SigningOptions & { stopOnError?: boolean; onProgress?: (p: { done: number; total: number }) => void },
  ): Promise<BatchResult>;
}

export type BridgeErrorCode =
  | "AGENT_UNREACHABLE"
  | "CERT_NOT_TRUSTED"
  | "LOCAL_NETWORK_DENIED"
  | "TIMEOUT"
  | "AGENT_TOO_OLD"
  | "CONNECTION_LOST"
  | "PROTOCOL_UNSUPPORTED"
  | "BRIDGE_USAGE"
  | "UNKNOWN_ERROR";

export declare class KysoError extends Error {
  constructor(
    code: string,
    init?: {
      messageVi?: string;
      messageEn?: string;
      actionVi?: string;
      actionEn?: string;
      rpcCode?: number;
      details?: Record<string, unknown>;
      cause?: unknown;
    },
  );
  readonly name: "KysoError";
  /** Stable code: the agent's (PIN_INCORRECT, USER_CANCELLED, CERT_EXPIRED...) or the bridge's. */
  readonly code: BridgeErrorCode | (string & {});
  readonly rpcCode?: number;
  readonly messageVi: string;
  readonly messageEn: string;
  readonly actionVi: string;
  readonly actionEn: string;
  readonly details: Record<string, unknown>;
  /** Message and action together, for a status line. */
  userText(lang?: "vi" | "en"): string;
  toJSON(): Record<string, unknown>;
  static fromRpc(error: { code?: number; message?: string; data?: unknown }): KysoError;
  static wrap(value: unknown): KysoError;
}

export interface ErrorRow {
  rpc: number;
  vi: string;
  en: string;
  actionVi: string;
  actionEn: string;
}

export declare const ERROR_TABLE: Readonly<Record<string, ErrorRow>>;
export declare const DEFAULTS: Readonly<Required<Omit<KysoBridgeOptions, "fetch" | "WebSocket" | "permissions" | "origin" | "storage">>>;
export declare const BRIDGE_VERSION: string;
export declare const PROTOCOL_VERSION: string;
export declare const CLOSE_ORIGIN_NOT_ALLOWED: 4403;
export declare const CLOSE_TOO_MANY_CONNECTIONS: 4429;
export declare const LNA_PERMISSION_NAMES: readonly string[];
export declare function localNetworkState(
  permissions?: Pick<Permissions, "query">,
): Promise<"granted" | "denied" | "prompt" | "unsupported">;
/** The error for "the agent was not reached". `ping`: what discovery already learnt
 *  (true/false; null = no ping port); when omitted, the ping is asked with fetch/host/pingPorts. */
export declare function diagnose(options: {
  fetch?: typeof fetch;
  permissions?: Pick<Permissions, "query">;
  host?: string;
  ports: number[];
  pingPorts?: number[];
  timeoutMs?: number;
  ping?: boolean | null;
}): Promise<KysoError>;
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
export declare function bytesToBase64(bytes: Uint8Array): string;
export declare function base64ToBytes(text: string): Uint8Array;
