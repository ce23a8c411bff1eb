import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// RS-issued DPoP nonces (RFC 9449 section 9), stateless: a nonce is a time step and an HMAC of
// it, so any replica holding the secret accepts any replica's nonce and nothing is stored. A
// nonce is accepted during its step and the next one (between half and all of the lifetime),
// and from the step after the current one (a replica whose clock runs a little ahead).

const MAC_BYTES = 18;

export interface NonceCheck {
  /** The nonce is one of ours and still accepted. */
  valid: boolean;
  /** Valid but from an earlier step: offer the client a fresh one. */
  aging: boolean;
}

export class DpopNonces {
  private readonly stepMs: number;
  /** The current step's nonce, made once per step. */
  private current: { step: number; nonce: string } | undefined;

  constructor(
    private readonly secret: () => string | Buffer,
    lifetimeSeconds: number,
  ) {
    this.stepMs = Math.ceil(lifetimeSeconds / 2) * 1000;
  }

  /** A random secret for a middleware alone (no replicas to agree with). */
  static randomSecret(): Buffer {
    return randomBytes(32);
  }

  private mac(step: number): Buffer {
    return createHmac('sha256', this.secret()).update(`dpop-nonce:${step}`).digest().subarray(0, MAC_BYTES);
  }

  private stepNow(): number {
    return Math.floor(Date.now() / this.stepMs);
  }

  /** The nonce to hand out now. */
  issue(): string {
    const step = this.stepNow();
    if (this.current?.step !== step)
      this.current = { step, nonce: `${step.toString(36)}.${this.mac(step).toString('base64url')}` };
    return this.current.nonce;
  }

  check(nonce: unknown): NonceCheck {
    const refused = { valid: false, aging: false };
    if (typeof nonce !== 'string' || nonce.length > 64) return refused;
    const dot = nonce.indexOf('.');
    if (dot <= 0 || dot > 12) return refused;
    const stepText = nonce.slice(0, dot);
    if (!/^[0-9a-z]+$/.test(stepText)) return refused;
    const step = Number.parseInt(stepText, 36);
    const now = this.stepNow();
    if (!Number.isSafeInteger(step) || step < now - 1 || step > now + 1) return refused;
    const given = Buffer.from(nonce.slice(dot + 1), 'base64url');
    const expected = this.mac(step);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refused;
    return { valid: true, aging: step < now };
  }
}
