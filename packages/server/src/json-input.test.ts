/**
 * The strict JSON reader behind seed and config files: syntax errors located by line and column
 * with messages of our own (never the text), and valid JSON always accepted as JSON.parse does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Issues, integer, JsonInputError, object, parseJsonText, string } from "./json-input.ts";

function syntaxError(text: string): { message: string; line?: number; column?: number } {
  try {
    parseJsonText(text, "doc.json");
  } catch (error) {
    assert.ok(error instanceof JsonInputError);
    assert.equal(error.issues.length, 1);
    return error.issues[0]!;
  }
  assert.fail(`accepted: ${text}`);
}

describe("parseJsonText", () => {
  it("locates each kind of syntax error by line and column", () => {
    const cases: Array<[string, RegExp, number, number]> = [
      ['{\n  "a": 1,\n}', /expected a key in double quotes \(a trailing comma\?\)/, 3, 1],
      ["[1,\n 2,\n ]", /expected a value \(a trailing comma\?\)/, 3, 2],
      ['{"a": 1 "b": 2}', /expected "," or "}" after a value/, 1, 9],
      ['{"a" 1}', /expected ":" after the key/, 1, 6],
      ['{"a": "x\ny"}', /control character/, 1, 9],
      ['{"a": "\\q"}', /unknown escape/, 1, 8],
      ['{"a": "\\u12"}', /four hex digits/, 1, 8],
      ['{"a": "open', /a string is not closed/, 1, 7],
      ["", /the document ends where a value was expected/, 1, 1],
      ["{} {}", /unexpected text after the end of the document/, 1, 4],
      ['{"a": tru}', /expected a value/, 1, 7],
      ['{"a": 01}', /expected "," or "}" after a value/, 1, 8],
    ];
    for (const [text, message, line, column] of cases) {
      const issue = syntaxError(text);
      assert.match(issue.message, message, text);
      assert.deepEqual([issue.line, issue.column], [line, column], text);
    }
  });

  it("never quotes the text in its message", () => {
    const error = syntaxError('{"app_secret": "top-secret-value-123",}');
    assert.ok(!error.message.includes("top-secret"));
  });

  it("accepts whatever JSON.parse accepts, with the same value, and a byte-order mark", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepEqual(parseJsonText(text, "doc").value, JSON.parse(text));
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(parseJsonText('\uFEFF{"a":1}', "doc").value, { a: 1 });
  });

  it("locates issues found after parsing by their JSON path, odd keys included", () => {
    const text = '{\n  "a b": {\n    "n": "x"\n  },\n  "list": [1, "two"]\n}';
    const document = parseJsonText(text, "doc.json");
    const issues = new Issues();
    const field = object({ "a b": object({ n: integer({ min: 0, max: 9 }) }, ["n"]), list: string() }, [
      "a b",
    ]);
    field(document.value, "", issues);
    const located = document.locate!(issues.list);
    assert.deepEqual(
      located.map((i) => [i.path, i.line, i.column]),
      [
        ['["a b"].n', 3, 5],
        ["list", 5, 3],
      ],
    );
  });
});
