import { describe, expect, it } from 'vitest';
import { parseCompactJwt } from '../src/jwt/compact.js';

// The header and payload must be well-formed UTF-8 (RFC 7519 section 7.2), read as a fatal
// TextDecoder reads them: each case is judged by one, so any faster decoding has to agree with
// it on every kind of ill-formed sequence, and on a U+FFFD the issuer wrote itself.

const HEADER = Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url');
const SIGNATURE = Buffer.alloc(8).toString('base64url');

/** A token whose payload is these bytes: `{"sub":"<bytes>"}`. */
function withSub(bytes: readonly number[]): string {
  const payload = Buffer.concat([Buffer.from('{"sub":"'), Buffer.from(bytes), Buffer.from('"}')]);
  return `${HEADER}.${payload.toString('base64url')}.${SIGNATURE}`;
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const wellFormed = (bytes: readonly number[]) => {
  try {
    fatal.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
};

describe('UTF-8 of a token header and payload', () => {
  const cases: { label: string; bytes: number[] }[] = [
    { label: 'ASCII', bytes: [0x61, 0x62] },
    { label: 'two-byte e-acute', bytes: [0xc3, 0xa9] },
    { label: 'four-byte emoji', bytes: [0xf0, 0x9f, 0x94, 0x91] },
    { label: 'U+FFFD written by the issuer', bytes: [0xef, 0xbf, 0xbd] },
    { label: 'U+FFFD beside an ill-formed byte', bytes: [0xef, 0xbf, 0xbd, 0xff] },
    { label: 'stray 0xff', bytes: [0x61, 0xff] },
    { label: 'lone continuation byte', bytes: [0x80] },
    { label: 'truncated sequence', bytes: [0xe2, 0x82] },
    { label: 'overlong slash', bytes: [0xc0, 0xaf] },
    { label: 'encoded surrogate', bytes: [0xed, 0xa0, 0x80] },
    { label: 'past U+10FFFF', bytes: [0xf4, 0x90, 0x80, 0x80] },
  ];
  for (const { label, bytes } of cases) {
    const accepted = wellFormed(bytes);
    it(`${accepted ? 'reads' : 'refuses'} a payload holding ${label}`, () => {
      const parsed = parseCompactJwt(withSub(bytes));
      if (!accepted) return expect(parsed).toBeUndefined();
      expect(parsed?.claims.sub).toBe(fatal.decode(Uint8Array.from(bytes)));
    });
  }

  it('drops one leading BOM, as a fatal TextDecoder does', () => {
    const payload = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"sub":"a"}')]);
    const parsed = parseCompactJwt(`${HEADER}.${payload.toString('base64url')}.${SIGNATURE}`);
    expect(parsed?.claims.sub).toBe('a');
  });

  it('refuses an ill-formed header as well', () => {
    const header = Buffer.concat([
      Buffer.from('{"alg":"RS256","kid":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    expect(parseCompactJwt(`${header.toString('base64url')}.${HEADER}.${SIGNATURE}`)).toBeUndefined();
  });
});
