/**
 * Sticky URL choice shared by a peer's channels: `pick()` returns the same URL
 * until `unreachable(url)` reports a failure on it, which moves to the next.
 */
export class UrlPicker {
  private urls: string[];
  private picked = 0;

  constructor(urls: readonly string[]) {
    this.urls = [...urls];
  }

  pick(): string {
    return this.urls[this.picked] as string;
  }

  /** Advances only when `url` is the current pick (concurrent failures on one URL advance once). */
  unreachable(url: string): void {
    if (this.urls[this.picked] === url && this.urls.length > 0) this.picked = (this.picked + 1) % this.urls.length;
  }

  update(urls: readonly string[]): void {
    this.urls = [...urls];
    this.picked = 0;
  }

  list(): readonly string[] {
    return this.urls;
  }
}
