// A lexer for report SQL sent to MariaDB/MySQL sources. It follows the server's own
// scanner (MariaDB sql/sql_lex.cc, Lex_input_stream::lex_one_token, with the
// character classes of utf8mb4 from mysys/charset.c init_state_maps) for a session
// whose sql_mode has neither ANSI_QUOTES nor NO_BACKSLASH_ESCAPES, so that what it
// calls a comment or a string is exactly what the server calls one. It runs in one
// pass: every token is read from a position, never from a re-sliced rest of the text.

export interface MysqlToken {
  kind:
    | 'word'
    | 'quoted-identifier'
    | 'string'
    | 'number'
    | 'comment'
    | 'whitespace'
    | 'symbol'
    | 'placeholder';
  text: string;
  /** Index of the first character (0-based, UTF-16 units). */
  start: number;
  /** Index after the last character. */
  end: number;
  /**
   * For 'quoted-identifier' and 'string': the decoded value. For X'…' and B'…' literals the
   * value holds the bytes, one character (U+0000–U+00FF) per byte.
   */
  value?: string;
}

/** unterminated / invalid: the server refuses the text too; not-allowed: Ferry's own rule. */
export type MysqlLexErrorReason = 'unterminated' | 'invalid' | 'not-allowed';

export class MysqlLexError extends Error {
  /** 1-based position of the offending construct, in UTF-16 units like string indexes. */
  readonly position: number;
  readonly reason: MysqlLexErrorReason;
  constructor(message: string, position: number, reason: MysqlLexErrorReason) {
    super(message);
    this.name = 'MysqlLexError';
    this.position = position;
    this.reason = reason;
  }
}

const QUOTE = 39;
const DOUBLE_QUOTE = 34;
const BACKTICK = 96;
const BACKSLASH = 92;
const DOT = 46;

// my_isspace in utf8mb4: \t \n \v \f \r and space. Everything else, NBSP included, is not.
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
// my_iscntrl in utf8mb4: 0x00–0x1F and 0x7F (bytes from 0x80 up are letters).
const isControl = (c: number) => c < 32 || c === 127;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isHexDigit = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isBit = (c: number) => c === 48 || c === 49;
// ident_map: letters, digits, "_", "$" and every byte of a multi-byte character.
const isNameChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 128;
// MY_LEX_HOSTNAME, the name after a single "@": my_isalnum, ".", "_", "$".
const isHostChar = (c: number) => isNameChar(c) || c === DOT;

const OPERATORS = new Set(['<=>', '<=', '<>', '<<', '>=', '>>', '!=', '&&', '||', ':=']);
const PLACEHOLDER = /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/y;
const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  '0': '\0',
  Z: '\x1a',
  // LIKE wildcards keep their backslash (my_unescape): '\%' is two characters.
  '%': '\\%',
  _: '\\_',
};

/** Lexes MariaDB/MySQL SQL; concatenating the texts of the tokens gives back `sql`. */
export function lexMysql(sql: string): MysqlToken[] {
  const nul = sql.indexOf('\0');
  if (nul !== -1) {
    // The server ends a line comment at a NUL but not a string or a block comment.
    throw new MysqlLexError(`A NUL character is not allowed (position ${nul + 1})`, nul + 1, 'not-allowed');
  }
  const scanner = new Scanner(sql);
  while (scanner.pos < sql.length) scanner.scanToken();
  return scanner.tokens;
}

class Scanner {
  readonly sql: string;
  readonly tokens: MysqlToken[] = [];
  pos = 0;
  /** After "name." (MY_LEX_IDENT_SEP) the next token is read as a name, even "1e5" or "x'a'". */
  nameNext = false;

  constructor(sql: string) {
    this.sql = sql;
  }

  scanToken(): void {
    const c = this.code(this.pos);
    const isName = this.nameNext && isNameChar(c);
    this.nameNext = false;
    if (isName) this.word(this.skip(this.pos, isNameChar));
    else if (isSpace(c)) this.push('whitespace', this.skip(this.pos, isSpace));
    else if (isDigit(c)) this.number();
    else if (isNameChar(c)) this.wordOrPrefixedString(c);
    else this.punctuation(c);
  }

  private punctuation(c: number): void {
    const next = this.code(this.pos + 1);
    if (c === QUOTE || c === DOUBLE_QUOTE) this.string(c, 1);
    else if (c === BACKTICK) this.quotedIdentifier();
    else if (c === 35 || (c === 45 && next === 45 && this.startsDashComment(this.pos + 2)))
      this.lineComment(); // # --
    else if (c === 47 && next === 42)
      this.blockComment(); // /*
    else if (c === DOT) this.dot(next);
    else if (c === 64)
      this.variable(next); // @
    else if (c === BACKSLASH) this.backslash(next);
    else if (c === 123)
      this.placeholderOrBrace(); // {
    else this.operator();
  }

  private code(i: number): number {
    return this.sql.charCodeAt(i); // NaN past the end: no class test matches it
  }

  private skip(from: number, test: (c: number) => boolean): number {
    let i = from;
    while (i < this.sql.length && test(this.sql.charCodeAt(i))) i++;
    return i;
  }

  private push(kind: MysqlToken['kind'], end: number, value?: string): void {
    const token: MysqlToken = { kind, text: this.sql.slice(this.pos, end), start: this.pos, end };
    if (value !== undefined) token.value = value;
    this.tokens.push(token);
    this.pos = end;
  }

  private fail(message: string, at: number, reason: MysqlLexErrorReason): never {
    throw new MysqlLexError(`${message} (position ${at + 1})`, at + 1, reason);
  }

  /** A bare name; "name." followed by a name character makes the next token a name too. */
  private word(end: number): void {
    this.push('word', end);
    if (this.code(end) === DOT && isNameChar(this.code(end + 1))) {
      this.push('symbol', end + 1);
      this.nameNext = true;
    }
  }

  private wordOrPrefixedString(c: number): void {
    const isPrefix = this.code(this.pos + 1) === QUOTE;
    if (isPrefix && (c === 120 || c === 88))
      this.binaryLiteral(isHexDigit, 'hexadecimal'); // x'…'
    else if (isPrefix && (c === 98 || c === 66))
      this.binaryLiteral(isBit, 'bit'); // b'…'
    else if (isPrefix && (c === 110 || c === 78))
      this.string(QUOTE, 2); // N'…'
    else this.word(this.skip(this.pos, isNameChar));
  }

  /** MY_LEX_NUMBER_IDENT: 0x1F, 0b101, 12, 1e5, 1.5; digits running into a name are a name (12ab, 1e). */
  private number(): void {
    const start = this.pos;
    const radix = this.code(start + 1);
    if (this.code(start) === 48 && (radix === 120 || radix === 98)) {
      const end = this.skip(start + 2, radix === 120 ? isHexDigit : isBit);
      if (end - start >= 3 && !isNameChar(this.code(end))) this.push('number', end);
      else this.word(this.skip(end, isNameChar));
      return;
    }
    const digitsEnd = this.skip(start, isDigit);
    const next = this.code(digitsEnd);
    const exponentEnd = next === 101 || next === 69 ? this.integerExponent(digitsEnd + 1) : -1;
    if (next === DOT && this.code(digitsEnd + 1) !== DOT) this.fraction(start, digitsEnd + 1);
    else if (!isNameChar(next)) this.push('number', digitsEnd);
    else if (exponentEnd !== -1) this.push('number', exponentEnd);
    else if (next === 101 || next === 69) this.word(this.skip(digitsEnd + 1, isNameChar));
    else this.word(this.skip(digitsEnd, isNameChar));
  }

  /** After "12e": the end of "12e5" or "12e-5", or -1 when no digit follows. */
  private integerExponent(from: number): number {
    const c = this.code(from);
    if (isDigit(c)) return this.skip(from, isDigit);
    if ((c === 43 || c === 45) && isDigit(this.code(from + 1))) return this.skip(from + 1, isDigit);
    return -1;
  }

  /** MY_LEX_REAL: the digits after the point and an optional exponent that must have digits. */
  private fraction(start: number, from: number): void {
    const end = this.skip(from, isDigit);
    const e = this.code(end);
    if (e !== 101 && e !== 69) {
      this.push('number', end);
      return;
    }
    const sign = this.code(end + 1);
    const digits = sign === 43 || sign === 45 ? end + 2 : end + 1;
    if (!isDigit(this.code(digits))) {
      // The server returns the character after the exponent as a token of its own here.
      this.fail('Malformed number: the exponent has no digits', start, 'invalid');
    }
    this.push('number', this.skip(digits, isDigit));
  }

  /** MY_LEX_REAL_OR_POINT: .5 is a number, ".." a symbol, and after "." a name follows. */
  private dot(next: number): void {
    if (isDigit(next)) this.fraction(this.pos, this.pos + 1);
    else if (next === DOT) this.push('symbol', this.pos + 2);
    else {
      this.push('symbol', this.pos + 1);
      this.nameNext = isNameChar(next);
    }
  }

  /** '…' and "…" (and N'…'): backslash escapes any character, a doubled quote is one quote. */
  private string(quote: number, open: number): void {
    const start = this.pos;
    let i = start + open;
    for (;;) {
      const c = this.code(i);
      if (Number.isNaN(c) || (c === BACKSLASH && i + 1 >= this.sql.length)) {
        this.fail('Unterminated string literal starting here', start, 'unterminated');
      }
      if (c === quote && this.code(i + 1) !== quote) break;
      i += c === BACKSLASH || c === quote ? 2 : 1;
    }
    this.push('string', i + 1, decodeString(this.sql.slice(start + open, i), quote));
  }

  /** `…`: no escapes, a doubled backtick is one backtick. */
  private quotedIdentifier(): void {
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      i = this.sql.indexOf('`', i);
      if (i === -1) this.fail('Unterminated quoted identifier starting here', start, 'unterminated');
      if (this.code(i + 1) !== BACKTICK) break;
      i += 2;
    }
    this.push('quoted-identifier', i + 1, this.sql.slice(start + 1, i).replaceAll('``', '`'));
  }

  /** X'…' (an even number of hex digits) and B'…' (bits); anything else inside is a syntax error. */
  private binaryLiteral(isDigitOf: (c: number) => boolean, name: string): void {
    const start = this.pos;
    const close = this.skip(start + 2, isDigitOf);
    const digits = this.sql.slice(start + 2, close);
    if (this.code(close) !== QUOTE || (name === 'hexadecimal' && digits.length % 2 === 1)) {
      this.fail(`Malformed ${name} literal`, start, 'invalid');
    }
    this.push('string', close + 1, name === 'hexadecimal' ? decodeHex(digits) : decodeBits(digits));
  }

  /** "--" starts a comment when a space, a control character or the end of the text follows. */
  private startsDashComment(i: number): boolean {
    if (i >= this.sql.length) return true;
    const c = this.code(i);
    return isSpace(c) || isControl(c);
  }

  /** "-- " and "#" comments run to the next \n (not \r), which is not part of them. */
  private lineComment(): void {
    const nl = this.sql.indexOf('\n', this.pos);
    this.push('comment', nl === -1 ? this.sql.length : nl);
  }

  /** Block comments do not nest: the first "*\/" closes. "/*!", "/*M!" and "/*+" are not comments. */
  private blockComment(): void {
    const start = this.pos;
    const third = this.code(start + 2);
    if (third === 33 || third === 43 || (third === 77 && this.code(start + 3) === 33)) {
      const form = this.sql.slice(start, third === 77 ? start + 4 : start + 3);
      this.fail(`Executable comments (/*! … */) are not allowed: found "${form}"`, start, 'not-allowed');
    }
    const close = this.sql.indexOf('*/', start + 2);
    if (close === -1) this.fail('Unterminated comment starting here', start, 'unterminated');
    this.push('comment', close + 2);
  }

  /** @name, @'name', @@name, @@session.name (MY_LEX_USER_END, MY_LEX_HOSTNAME, MY_LEX_SYSTEM_VAR). */
  private variable(next: number): void {
    this.push('symbol', this.pos + 1);
    if (next === QUOTE || next === DOUBLE_QUOTE || next === BACKTICK) return;
    if (next !== 64) {
      const end = this.skip(this.pos, isHostChar);
      if (end > this.pos) this.push('word', end);
      return;
    }
    this.push('symbol', this.pos + 1);
    if (this.code(this.pos) === BACKTICK) return;
    const end = this.skip(this.pos, isNameChar);
    if (end === this.pos) this.fail('"@@" must be followed by a variable name', this.pos - 2, 'invalid');
    this.word(end);
  }

  /** "\N" is NULL; any other backslash outside quotes is a syntax error on the server. */
  private backslash(next: number): void {
    if (next !== 78) this.fail('A backslash outside quotes is not valid SQL', this.pos, 'invalid');
    this.push('word', this.pos + 2);
  }

  private placeholderOrBrace(): void {
    PLACEHOLDER.lastIndex = this.pos;
    const m = PLACEHOLDER.exec(this.sql);
    this.push(m ? 'placeholder' : 'symbol', m ? this.pos + m[0].length : this.pos + 1);
  }

  private operator(): void {
    let end = this.pos + 3;
    while (end > this.pos + 1 && !OPERATORS.has(this.sql.slice(this.pos, end))) end--;
    this.push('symbol', end);
  }
}

/** my_unescape: \0 \b \n \r \t \Z, \% and \_ keep the backslash, any other \x is x; '' is '. */
function decodeString(body: string, quote: number): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === BACKSLASH) {
      const escaped = body[i + 1]!;
      out += body.slice(from, i) + (ESCAPES[escaped] ?? escaped);
      i++;
      from = i + 1;
    } else if (c === quote) {
      out += body.slice(from, i + 1);
      i++;
      from = i + 1;
    }
  }
  return out + body.slice(from);
}

function decodeHex(digits: string): string {
  let out = '';
  for (let i = 0; i < digits.length; i += 2)
    out += String.fromCharCode(Number.parseInt(digits.slice(i, i + 2), 16));
  return out;
}

function decodeBits(bits: string): string {
  const padded = bits.padStart(Math.ceil(bits.length / 8) * 8, '0');
  let out = '';
  for (let i = 0; i < padded.length; i += 8)
    out += String.fromCharCode(Number.parseInt(padded.slice(i, i + 8), 2));
  return out;
}
