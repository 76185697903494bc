/**
 * One open object per file in this process, opened by its first user and closed by its last, so every node naming
 * the same file shares it (and the API can read what the nodes keep). Users of one file must give the same
 * options; the first that differs is reported.
 */
export class SharedByFile<T, O extends object> {
  private readonly open = new Map<string, { value: T; options: O; users: number }>();

  constructor(
    private readonly handlers: {
      create: (file: string, options: O) => T;
      /** Each user's last word when it gives the object back (e.g. writing what it changed). */
      release?: (value: T) => void;
      close: (value: T) => void;
      mismatch: (file: string, key: keyof O, current: O) => Error;
    },
  ) {}

  /** The object for `file`, opened if nobody holds it; `release` gives it back, once however often it is called. */
  acquire(file: string, options: O): { value: T; release(): void } {
    let entry = this.open.get(file);
    if (entry) {
      const current = entry.options;
      const differs = (Object.keys(options) as (keyof O)[]).find((key) => current[key] !== options[key]);
      if (differs !== undefined) throw this.handlers.mismatch(file, differs, current);
    } else {
      entry = { value: this.handlers.create(file, options), options, users: 0 };
      this.open.set(file, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      value: held.value,
      release: () => {
        if (released) return;
        released = true;
        this.handlers.release?.(held.value);
        if (--held.users === 0) {
          this.handlers.close(held.value);
          this.open.delete(file);
        }
      },
    };
  }

  /** What is open for `file`, if anyone holds it; for readers that must not open it themselves. */
  peek(file: string): T | null {
    return this.open.get(file)?.value ?? null;
  }
}
