import { readFileSync } from "node:fs";

/**
 * Strict reading of the JSON documents an operator writes by hand (seed files, the config file):
 * every problem is collected, each with its JSON path (and its line and column when the text is
 * at hand), so one run shows them all. Unknown keys are refused, with the closest known key as a
 * hint: a misspelt key that were ignored could silently change what the document means.
 *
 * One mechanism for both documents, written here rather than taken from a JSON-Schema library:
 * the checks that matter most (a user listed in a visibility must exist in that tenant) are
 * cross-references a schema cannot express, and the messages must never quote a value (a seed
 * carries app secrets).
 */

/** One problem in a document. */
export interface JsonIssue {
  /** e.g. `apps[0].visibility.users[2]`; empty for the document itself. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** Issues are listed up to this many; the rest are counted. */
const MAX_LISTED = 50;

/** A document that cannot be used, with every issue found in it. */
export class JsonInputError extends Error {
  override name = "JsonInputError";
  constructor(
    /** What the document is, for the message: a file path, or e.g. `request body`. */
    readonly source: string,
    readonly issues: readonly JsonIssue[],
  ) {
    super(describeIssues(source, issues, "\n  "));
  }

  /** The same list on one line, for an HTTP answer's msg. */
  get oneLine(): string {
    return describeIssues(this.source, this.issues, "; ");
  }
}

function describeIssues(source: string, issues: readonly JsonIssue[], separator: string): string {
  const listed = issues.slice(0, MAX_LISTED).map((issue) => {
    const where = issue.line === undefined ? "" : ` (line ${issue.line}, column ${issue.column})`;
    return issue.path === "" ? `${issue.message}${where}` : `${issue.path}${where}: ${issue.message}`;
  });
  if (issues.length > MAX_LISTED) listed.push(`… and ${issues.length - MAX_LISTED} more`);
  // One issue stays on one line; several are counted, then listed.
  if (issues.length === 1) return `${source}: ${listed[0]}`;
  return `${source}: ${issues.length} errors${separator}${listed.join(separator)}`;
}

/** Collects issues while a document is read. */
export class Issues {
  readonly list: JsonIssue[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  get count(): number {
    return this.list.length;
  }
}

/** The path of an object member or array item below `parent`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  if (!/^[A-Za-z_]/.test(name)) return `${parent}[${name}]`;
  return parent === "" ? name : `${parent}.${name}`;
}

/** Reads one value; records issues and answers undefined when it is unusable. */
export type Field<T> = (value: unknown, path: string, issues: Issues) => T | undefined;
type FieldType<F> = F extends Field<infer T> ? T : never;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

export function string(
  options: { pattern?: RegExp; describe?: string; maxLength?: number; minLength?: number } = {},
): Field<string> {
  const { maxLength = 512, minLength = 1 } = options;
  return (value, path, issues) => {
    if (typeof value !== "string") return void issues.add(path, `must be a string, not ${typeName(value)}`);
    if (value.length < minLength)
      return void issues.add(
        path,
        minLength === 1 ? "must not be empty" : `needs at least ${minLength} characters`,
      );
    if (value.length > maxLength) return void issues.add(path, `must be at most ${maxLength} characters`);
    // The value itself is never quoted: it may be a secret.
    if (options.pattern && !options.pattern.test(value))
      return void issues.add(
        path,
        `has the wrong format (expected ${options.describe ?? options.pattern.source})`,
      );
    return value;
  };
}

export function integer(options: { min: number; max: number }): Field<number> {
  return (value, path, issues) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < options.min || value > options.max)
      return void issues.add(path, `must be an integer from ${options.min} to ${options.max}`);
    return value;
  };
}

export const boolean: Field<boolean> = (value, path, issues) => {
  if (typeof value !== "boolean")
    return void issues.add(path, `must be true or false, not ${typeName(value)}`);
  return value;
};

export function oneOf<T extends string>(values: readonly T[]): Field<T> {
  return (value, path, issues) => {
    if (typeof value === "string" && (values as readonly string[]).includes(value)) return value as T;
    return void issues.add(path, `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`);
  };
}

export function nullable<T>(field: Field<T>): Field<T | null> {
  return (value, path, issues) => (value === null ? null : field(value, path, issues));
}

export function arrayOf<T>(item: Field<T>, options: { unique?: boolean } = {}): Field<T[]> {
  return (value, path, issues) => {
    if (!Array.isArray(value)) return void issues.add(path, `must be an array, not ${typeName(value)}`);
    // Usable items are kept even when others are not, so that the checks after this one (a
    // user listed in a visibility exists…) still run on them and report in the same pass.
    const out: T[] = [];
    const seen = new Set<unknown>();
    value.forEach((raw, i) => {
      const read = item(raw, childPath(path, i), issues);
      if (read === undefined) return;
      if (options.unique && seen.has(read)) issues.add(childPath(path, i), "is listed twice");
      seen.add(read);
      out.push(read);
    });
    return out;
  };
}

type Shape = Record<string, Field<unknown>>;
export type ObjectOf<S extends Shape, R extends keyof S> = { [K in R]: FieldType<S[K]> } & {
  [K in Exclude<keyof S, R>]?: FieldType<S[K]>;
};

/**
 * An object with exactly these keys (`required` must be present). Unknown keys are refused with
 * the closest known one as a hint. Undefined when a key is missing or a value unusable; unknown
 * keys alone leave the object usable, so the checks that follow still run and report.
 */
export function object<S extends Shape, R extends keyof S & string>(
  shape: S,
  required: readonly R[],
): Field<ObjectOf<S, R>> {
  const known = Object.keys(shape);
  return (value, path, issues) => {
    if (!isRecord(value)) return void issues.add(path, `must be an object, not ${typeName(value)}`);
    let usable = true;
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(shape, key)) continue;
      const near = closest(key, known);
      issues.add(childPath(path, key), `unknown key${near ? ` (did you mean "${near}"?)` : ""}`);
    }
    const out: Record<string, unknown> = {};
    for (const key of known) {
      const raw = value[key];
      if (raw === undefined) {
        if ((required as readonly string[]).includes(key)) {
          issues.add(childPath(path, key), "is required");
          usable = false;
        }
        continue;
      }
      const read = shape[key]!(raw, childPath(path, key), issues);
      if (read === undefined) usable = false;
      else out[key] = read;
    }
    return usable ? (out as ObjectOf<S, R>) : undefined;
  };
}

/** The known key within two edits of `key`, if one is (catches `visiblity`, `tenantKey`). */
function closest(key: string, known: readonly string[]): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = plain(candidate) === plain(key) ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A document to read: its value, what it is called, and (for text) where each path starts. */
export interface JsonDocument {
  value: unknown;
  /** A file path, or e.g. `request body`. */
  source: string;
  /** Adds line and column to issues, when the document came from text. */
  locate?(issues: readonly JsonIssue[]): JsonIssue[];
}

type IssuesErrorClass = new (source: string, issues: readonly JsonIssue[]) => JsonInputError;

/** The error for these issues, located in the text when it can be. */
export function issuesError(
  document: JsonDocument,
  issues: Issues,
  ErrorClass: IssuesErrorClass = JsonInputError,
): JsonInputError {
  return new ErrorClass(document.source, document.locate ? document.locate(issues.list) : issues.list);
}

/** Throws when any issue was found. */
export function throwIssues(document: JsonDocument, issues: Issues, ErrorClass?: IssuesErrorClass): void {
  if (issues.count > 0) throw issuesError(document, issues, ErrorClass);
}

/** Reads and parses a JSON file; an unreadable file is an issue of the document itself. */
export function readJsonFile(path: string, ErrorClass: IssuesErrorClass = JsonInputError): JsonDocument {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file " : code === "EISDIR" ? "a directory, not a file " : "";
    throw new ErrorClass(path, [{ path: "", message: `cannot read: ${reason}(${code ?? "error"})` }]);
  }
  return parseJsonText(text, path, ErrorClass);
}

/**
 * Parses JSON text. A syntax error becomes a JsonInputError with its line and column, and a
 * message of our own: V8's quotes the text around the error, which may hold a secret.
 */
export function parseJsonText(
  text: string,
  source: string,
  ErrorClass: IssuesErrorClass = JsonInputError,
): JsonDocument {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    // JSON.parse is native and fast; the scanner runs only to say where the text went wrong.
    const failure = new JsonScanner(body, new Map()).scanDocument() ?? { offset: 0, message: "" };
    const { line, column } = lineFinder(body)(failure.offset);
    const message = `not valid JSON${failure.message ? `: ${failure.message}` : ""}`;
    throw new ErrorClass(source, [{ path: "", message, line, column }]);
  }
  return {
    value,
    source,
    locate: (issues) => {
      // Only a document with issues is scanned for where its paths start.
      const offsets = new Map<string, number>();
      new JsonScanner(body, offsets).scanDocument();
      const at = lineFinder(body);
      return issues.map((issue) => {
        const offset = offsets.get(issue.path) ?? offsets.get(parentOf(issue.path));
        return offset === undefined ? issue : { ...issue, ...at(offset) };
      });
    },
  };
}

function parentOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
  return cut <= 0 ? "" : path.slice(0, cut);
}

/** Line and column (both from 1) of offsets in `text`; a file may have thousands of issues. */
function lineFinder(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1 };
  };
}

/**
 * A JSON (RFC 8259) syntax checker that notes where each path starts: the offset of an object
 * member's key, or of an array item. It finds the first error; JSON.parse builds the value.
 */
class JsonScanner {
  #at = 0;
  constructor(
    private readonly text: string,
    private readonly offsets: Map<string, number>,
  ) {}

  scanDocument(): { offset: number; message: string } | null {
    try {
      this.#value("");
      this.#space();
      if (this.#at < this.text.length) this.#fail("unexpected text after the end of the document");
      return null;
    } catch (error) {
      if (error instanceof ScanFailure) return { offset: error.offset, message: error.message };
      throw error;
    }
  }

  #fail(message: string): never {
    throw new ScanFailure(this.#at, message);
  }

  #space(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.#at);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.#at++;
    }
  }

  #value(path: string): void {
    this.#space();
    if (!this.offsets.has(path)) this.offsets.set(path, this.#at);
    const c = this.text[this.#at];
    if (c === "{") return void this.#object(path);
    if (c === "[") return void this.#array(path);
    if (c === '"') return void this.#string();
    if (c === undefined) this.#fail("the document ends where a value was expected");
    for (const word of ["true", "false", "null"]) {
      if (this.text.startsWith(word, this.#at)) {
        this.#at += word.length;
        return;
      }
    }
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      this.text.slice(this.#at, this.#at + 400),
    );
    if (number) {
      this.#at += number[0].length;
      return;
    }
    this.#fail("expected a value (an object, array, string, number, true, false or null)");
  }

  #object(path: string): void {
    this.#at++;
    this.#space();
    if (this.text[this.#at] === "}") {
      this.#at++;
      return;
    }
    for (;;) {
      this.#space();
      if (this.text[this.#at] !== '"') this.#fail("expected a key in double quotes (a trailing comma?)");
      const keyAt = this.#at;
      const key = this.#string();
      const member = childPath(path, key);
      this.offsets.set(member, keyAt);
      this.#space();
      if (this.text[this.#at] !== ":") this.#fail('expected ":" after the key');
      this.#at++;
      this.#value(member);
      this.#space();
      const next = this.text[this.#at];
      this.#at++;
      if (next === "}") return;
      if (next !== ",") {
        this.#at--;
        this.#fail('expected "," or "}" after a value (a missing comma?)');
      }
    }
  }

  #array(path: string): void {
    this.#at++;
    this.#space();
    if (this.text[this.#at] === "]") {
      this.#at++;
      return;
    }
    for (let i = 0; ; i++) {
      this.#space();
      if (this.text[this.#at] === "]") this.#fail("expected a value (a trailing comma?)");
      this.#value(childPath(path, i));
      this.#space();
      const next = this.text[this.#at];
      this.#at++;
      if (next === "]") return;
      if (next !== ",") {
        this.#at--;
        this.#fail('expected "," or "]" after a value (a missing comma?)');
      }
    }
  }

  /** Scans a string literal; answers its value (needed for member paths). */
  #string(): string {
    const start = this.#at;
    this.#at++;
    for (;;) {
      const c = this.text[this.#at];
      if (c === undefined) {
        this.#at = start;
        this.#fail("a string is not closed");
      }
      if (c === '"') break;
      if (c < " ") this.#fail("a control character (a line break?) inside a string (write it as \\n)");
      if (c === "\\") {
        const escaped = this.text[this.#at + 1] ?? "";
        if (escaped === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#at + 2, this.#at + 6)))
            this.#fail("\\u must be followed by four hex digits");
          this.#at += 6;
          continue;
        }
        if (escaped === "" || !'"\\/bfnrt'.includes(escaped)) this.#fail("an unknown escape in a string");
        this.#at += 2;
        continue;
      }
      this.#at++;
    }
    this.#at++;
    const literal = this.text.slice(start, this.#at);
    return literal.includes("\\") ? (JSON.parse(literal) as string) : literal.slice(1, -1);
  }
}

class ScanFailure extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}
