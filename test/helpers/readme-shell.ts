/**
 * Reads a README's `sh` block the way bash would, for the few constructs a walkthrough uses, so
 * a test can run it with Node alone (no bash, no curl): commands split into words across
 * `\`-newline continuations, single quotes (literal), double quotes (`\"`, `\\`, `\$` escapes;
 * `$VAR` expanded), unquoted `$VAR` and `$(command)`, and `# comments`, on lines of their own or
 * after a command.
 * Not a shell: no pipes, redirections, globbing or nested substitutions.
 */

/** One piece of a word: literal text, a variable, or a command substitution. */
export type Part = { text: string } | { variable: string } | { command: string };

/** A line of the block: a comment's text (after `# `) on a line of its own, or a command's words (a trailing comment dropped). */
export type Line = { comment: string } | { words: Part[][] };

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** The first ```sh block after the heading `heading` (e.g. `## Walkthrough`), its text. */
export function shBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`no "${heading}" heading`);
  const start = markdown.indexOf('```sh\n', at);
  const end = markdown.indexOf('\n```', start + 6);
  if (start < 0 || end < 0) throw new Error(`no sh block after "${heading}"`);
  return markdown.slice(start + 6, end + 1);
}

/** The block's comments and commands, in order. Throws on an unterminated quote or substitution. */
export function parseShell(block: string): Line[] {
  const lines: Line[] = [];
  let words: Part[][] = [];
  let word: Part[] | undefined;
  const text = (t: string) => {
    word ??= [];
    const last = word.at(-1);
    if (last !== undefined && 'text' in last) last.text += t;
    else word.push({ text: t });
  };
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) lines.push({ words });
    words = [];
  };
  /** At `$` (index i): pushes a variable or a substitution; returns the index after it. */
  const dollar = (i: number): number => {
    if (block[i + 1] === '(') {
      const close = block.indexOf(')', i + 2);
      if (close < 0) throw new Error('unterminated $(');
      word ??= [];
      word.push({ command: block.slice(i + 2, close) });
      return close + 1;
    }
    NAME.lastIndex = i + 1;
    const name = NAME.exec(block)?.[0];
    if (name === undefined) {
      text('$');
      return i + 1;
    }
    word ??= [];
    word.push({ variable: name });
    return i + 1 + name.length;
  };
  let i = 0;
  while (i < block.length) {
    const c = block[i] ?? '';
    if (c === '#' && word === undefined) {
      // As in bash, a `#` that starts a word starts a comment: a line of its own, or the end of a command's line.
      const eol = block.indexOf('\n', i);
      if (words.length === 0) lines.push({ comment: block.slice(i + 1, eol < 0 ? undefined : eol).replace(/^ /, '') });
      i = eol < 0 ? block.length : eol;
    } else if (c === '\n') {
      endCommand();
      i++;
    } else if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if (c === '\\') {
      if (block[i + 1] !== '\n') text(block[i + 1] ?? '');
      i += 2;
    } else if (c === "'") {
      const close = block.indexOf("'", i + 1);
      if (close < 0) throw new Error('unterminated single quote');
      text(block.slice(i + 1, close));
      i = close + 1;
    } else if (c === '"') {
      word ??= [];
      i++;
      while (block[i] !== '"') {
        if (i >= block.length) throw new Error('unterminated double quote');
        if (block[i] === '\\' && '"\\$`'.includes(block[i + 1] ?? '')) {
          text(block[i + 1] ?? '');
          i += 2;
        } else if (block[i] === '$') i = dollar(i);
        else text(block[i++] ?? '');
      }
      i++;
    } else if (c === '$') i = dollar(i);
    else {
      text(c);
      i++;
    }
  }
  endCommand();
  return lines;
}

/** A word with its variables and substitutions replaced (an unset variable is an error, not ""). */
export async function expand(word: Part[], vars: Map<string, string>, run: (command: string) => Promise<string>): Promise<string> {
  let out = '';
  for (const part of word) {
    if ('text' in part) out += part.text;
    else if ('variable' in part) {
      const value = vars.get(part.variable);
      if (value === undefined) throw new Error(`$${part.variable} is not set`);
      out += value;
    } else out += (await run(part.command)).replace(/\n+$/, '');
  }
  return out;
}
