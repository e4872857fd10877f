// Type declarations for the Herald client (herald.js / herald.mjs).

/** A message as delivered to subscribers: the server's envelope. */
export interface HeraldMessage<T = unknown> {
  channel: string;
  /** Opaque cursor "<epoch>-<seq>"; pass it back as `since` to resume after it. */
  id: string;
  /** Publish time, Unix milliseconds. */
  ts: number;
  data: T;
}

export type HeraldTransportName = 'websocket' | 'sse' | 'longpoll';
export type HeraldState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Reported through the 'error' event and publish callbacks; informational, the client keeps reconnecting. */
export interface HeraldError {
  /**
   * 'probe_timeout', 'ws_closed', 'ws_failed', 'sse_ended', 'http_<status>', 'network', 'bad_response',
   * 'idle', 'callback', 'unsupported', 'open_failed', or a code sent by the server in an error frame.
   */
  code: string;
  message?: string;
  /** Transport the error came from, when there is one. */
  transport?: string;
  /** HTTP status for http_* errors (0 for network failures). */
  status?: number;
  /** Server's own error code from an HTTP error body. */
  server?: string;
  /** The exception a subscriber callback threw (code 'callback'). */
  error?: unknown;
}

export interface HeraldGap {
  /** The server could not replay this channel from the client's cursor, or (with `skipped`) a
   *  slow connection skipped messages of a "latest" channel: messages may be missing. */
  channel: string;
  /** Set when the server conflated: how many messages were replaced by the newest, which follows. */
  skipped?: number;
}

/** Someone joined or left a channel of a namespace with presence (the 'join' and 'leave' events).
 *  Best effort: not replayed after a reconnect; call presence() after connecting for the full list. */
export interface HeraldPresenceEvent {
  channel: string;
  /** The `sub` claim of the member's token. */
  user: string;
  /** The `info` claim of the member's token, or null. */
  info: unknown;
}

export interface HeraldPresenceList {
  channel: string;
  count: number;
  members: Array<{ user: string; info: unknown }>;
}

export interface HeraldChannelCounts {
  /** Sorted by name; subscribers summed across the cluster's nodes. */
  channels: Array<{ channel: string; subscribers: number }>;
  /** More channels matched than the server lists at once (100). */
  truncated: boolean;
}

export interface HeraldSubscription {
  readonly channel: string;
  /** Stops this callback; the last one for a channel also unsubscribes on the server. Idempotent. */
  unsubscribe(): void;
}

export interface HeraldSubscribeOptions {
  /** Resume after this cursor (e.g. one saved from a previous page); only used when the channel is new on this client. */
  since?: string;
}

export interface HeraldTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
}

/** What a transport reports to the client. */
export interface HeraldTransportSink {
  /** The server streams `channels` after `cursor` (plus a replay after each resume cursor when recovered). */
  subscribed(channels: string[], recovered: boolean | undefined, cursor: string | undefined): void;
  /** One long-poll answer: deliver `messages`, then everything up to `cursor` is done. */
  batch(channels: string[], recovered: boolean | undefined, messages: Array<HeraldMessage & Record<string, unknown>>, cursor: string | undefined): void;
  message(envelope: HeraldMessage & Record<string, unknown>): void;
  /** A presence event; delivered to 'join' / 'leave' listeners when its channel is subscribed. */
  presence(event: { type: 'join' | 'leave' } & HeraldPresenceEvent): void;
  /** Heartbeat or pong; `proof` says whether it proves the path carries data (a pong does, an SSE comment does not). */
  alive(proof: boolean): void;
  error(err: HeraldError): void;
  /** Ask to be replaced by a fresh instance (e.g. a stream grew too long). */
  recycle(): void;
  closed(err?: HeraldError): void;
}

export interface HeraldTransportContext {
  url: string;
  token: string | null;
  channels: string[];
  /** Resume cursor per channel (null: new channel, start from now). */
  since: Record<string, string | null>;
  /** Single resume cursor for transports that take one for all channels. */
  cursor: string | null;
  pollTimeout: number;
  jsonp: boolean;
  wsProtocol: string | null;
  maxStreamBytes: number;
  env: HeraldEnv;
  timers: HeraldTimers;
  sink: HeraldTransportSink;
}

export interface HeraldTransport {
  close(): void;
  /** Present when the transport can change channels without reopening (WebSocket). */
  subscribe?(channel: string, since: string | null): void;
  unsubscribe?(channel: string): void;
  /** Called every pingInterval on the active transport. */
  ping?(): void;
  /** Lower bound for the liveness limit (long-poll holds requests). */
  minIdle?: number;
}

export interface HeraldTransportFactory {
  (ctx: HeraldTransportContext): HeraldTransport;
  isSupported?(env: HeraldEnv, options: Required<HeraldOptions>): boolean;
}

/** Browser objects the client uses; defaults come from the global scope. */
export interface HeraldEnv {
  WebSocket?: unknown;
  XMLHttpRequest?: unknown;
  document?: unknown;
  window?: Record<string, unknown> | null;
  fetch?: unknown;
  /** With fetch, TextDecoder and AbortController: SSE is read from fetch's streamed body. */
  ReadableStream?: unknown;
  TextDecoder?: unknown;
  AbortController?: unknown;
  sessionStorage?: { getItem(key: string): string | null; setItem(key: string, value: string): void } | null;
}

export interface HeraldOptions {
  /** Transports in order of preference. Default ['websocket', 'sse', 'longpoll']. */
  transports?: HeraldTransportName[] | string[];
  /** Sent as the `token` query parameter on every request. */
  token?: string | null;
  /** A transport counts as working only once data flows through it within this time. Default 5000 ms. */
  probeTimeout?: number;
  /** Reconnect delays. Defaults: initial 500 ms, max 30000 ms, jitter 'full' (uniform in [0, cap)). */
  backoff?: { initial?: number; max?: number; jitter?: 'full' | 'none' };
  /** While on a worse transport, try the better ones again after about this long; doubles per failed try up to 16x. 0 disables. Default 60000 ms. */
  failbackInterval?: number;
  /** No data or heartbeat for this long means a dead connection. Set to about twice the server's heartbeat. Default 45000 ms. */
  idleTimeout?: number;
  /** WebSocket ping period (keeps NATs open and feeds idleTimeout). 0 disables. Default 20000 ms. */
  pingInterval?: number;
  /** Long-poll hold time asked of the server, seconds. Default 25. */
  pollTimeout?: number;
  /** Force JSONP for long-poll (it is also used when XHR lacks CORS). Default false. */
  jsonp?: boolean;
  /** WebSocket subprotocol offered; null offers none. Default 'herald.v1'. */
  wsProtocol?: string | null;
  /** An SSE stream read through XHR is reopened past this many characters. Default 4 MiB. */
  maxStreamBytes?: number;
  /** sessionStorage key prefix for the remembered transport. Default 'herald.transport'. */
  storageKey?: string;
  // Advanced, mainly for tests:
  timers?: HeraldTimers;
  random?: () => number;
  transportFactories?: Record<string, HeraldTransportFactory>;
  env?: HeraldEnv;
}

export interface HeraldEvents {
  transport: HeraldTransportName | string;
  state: HeraldState;
  gap: HeraldGap;
  error: HeraldError;
  join: HeraldPresenceEvent;
  leave: HeraldPresenceEvent;
}

declare class Herald {
  constructor(baseUrl: string, options?: HeraldOptions);
  readonly url: string;
  subscribe<T = unknown>(channel: string, onMessage: (msg: HeraldMessage<T>) => void, options?: HeraldSubscribeOptions): HeraldSubscription;
  on<K extends keyof HeraldEvents>(event: K, listener: (value: HeraldEvents[K]) => void): this;
  off<K extends keyof HeraldEvents>(event: K, listener: (value: HeraldEvents[K]) => void): this;
  /** POST /api/publish. */
  publish(channel: string, data: unknown, callback?: (err: HeraldError | null, result?: { id: string }) => void): void;
  /** GET /api/presence: who is in a presence channel now, on every node. */
  presence(channel: string, callback: (err: HeraldError | null, result?: HeraldPresenceList) => void): void;
  /** GET /api/channels: channels starting with `prefix` with their subscriber counts, on every node. */
  channels(prefix: string, callback: (err: HeraldError | null, result?: HeraldChannelCounts) => void): void;
  /** Closes the connection for good; subscribe() afterwards throws. */
  close(): void;
  state(): HeraldState;
  /** Name of the transport in use, or null while not connected. */
  transport(): string | null;
  /** Last cursor delivered (or known complete) for a channel; save it to resume later with `since`. */
  cursor(channel: string): string | null;

  static transports: Record<HeraldTransportName, HeraldTransportFactory>;
}

export default Herald;
export { Herald };
