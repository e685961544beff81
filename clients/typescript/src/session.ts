// The access token of one tab, in memory only, kept fresh together with the
// other tabs of the origin: one refresh at a time across tabs (Web Locks), its
// result handed to the others (BroadcastChannel), so no tab ever presents a
// refresh token that another tab has already traded.

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
}

/** The part of the Web Locks API this client uses (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The part of `BroadcastChannel` this client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

type Message =
  | { type: "token"; accessToken: string; expiresAt: number }
  | { type: "signed_out" };

export type Listener = (accessToken: string | null) => void;

export interface SessionOptions {
  /** Trades the cookie for a new pair: the answer, or null when the session is over. */
  refresh: () => Promise<TokenAnswer | null>;
  locks: LockManagerLike | null;
  channel: ChannelLike | null;
  lockName: string;
  marginSeconds: number;
  now: () => number;
}

export class Session {
  private token: string | null = null;
  private expiresAt = 0;
  // When to refresh: the margin before expiry (at most half the token's life).
  private refreshAt = 0;
  // Bumped whenever the token changes, here or from another tab.
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<string | null> | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly options: SessionOptions) {
    if (options.channel) options.channel.onmessage = (event) => this.receive(event.data);
  }

  accessToken(): string | null {
    return this.token;
  }

  /** Whether the token is missing or inside the refresh margin. */
  stale(): boolean {
    return this.token === null || this.options.now() >= this.refreshAt;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A new pair from a sign-in route: keep it, and tell the other tabs. */
  signedIn(answer: TokenAnswer): string {
    this.adopt(answer.access_token, this.options.now() + answer.expires_in * 1000);
    this.post({ type: "token", accessToken: answer.access_token, expiresAt: this.expiresAt });
    return answer.access_token;
  }

  /** Signed out here: forget the token, and tell the other tabs. */
  signedOut(): void {
    this.drop();
    this.post({ type: "signed_out" });
  }

  /**
   * A fresh access token, or null when the session is over.
   *
   * One refresh per tab at a time; across tabs, under the lock. A tab that
   * waited for the lock while another refreshed takes the token that tab
   * broadcast instead of refreshing again.
   */
  refresh(): Promise<string | null> {
    if (this.inFlight) return this.inFlight;
    const seen = this.generation;
    const run = async (): Promise<string | null> => {
      if (this.generation !== seen && !this.stale()) return this.token;
      const answer = await this.options.refresh();
      if (answer === null) {
        this.signedOut();
        return null;
      }
      return this.signedIn(answer);
    };
    const locks = this.options.locks;
    const task = locks ? locks.request(this.options.lockName, run) : run();
    this.inFlight = task.finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Run `action` while no tab refreshes (logout uses it). */
  exclusive<T>(action: () => Promise<T>): Promise<T> {
    const locks = this.options.locks;
    return locks ? locks.request(this.options.lockName, action) : action();
  }

  close(): void {
    this.clearTimer();
    this.options.channel?.close();
    this.listeners.clear();
  }

  private receive(data: unknown): void {
    const message = data as Message;
    if (message?.type === "token" && typeof message.accessToken === "string") {
      this.adopt(message.accessToken, Number(message.expiresAt));
    } else if (message?.type === "signed_out") {
      this.drop();
    }
  }

  private adopt(token: string, expiresAt: number): void {
    const lifetime = Math.max(expiresAt - this.options.now(), 0);
    this.token = token;
    this.expiresAt = expiresAt;
    this.refreshAt = expiresAt - Math.min(this.options.marginSeconds * 1000, lifetime / 2);
    this.generation += 1;
    this.schedule();
    this.emit();
  }

  private drop(): void {
    const had = this.token !== null;
    this.token = null;
    this.expiresAt = 0;
    this.refreshAt = 0;
    this.generation += 1;
    this.clearTimer();
    if (had) this.emit();
  }

  private schedule(): void {
    this.clearTimer();
    const delay = Math.max(this.refreshAt - this.options.now(), 0);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh().catch(() => undefined);
    }, delay);
    // In Node (tests, SSR) a pending refresh must not keep the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private post(message: Message): void {
    this.options.channel?.postMessage(message);
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.token);
  }
}
