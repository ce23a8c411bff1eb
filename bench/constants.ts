/** What the benchmark apps and their load generator agree on. */
export const ISSUER = 'https://bench.issuer';
export const AUDIENCE = 'bench';

/** The Apache documentation's apr1 vector: user / password. */
export const APR1_LINE = 'user:$apr1$TYiryv0/$8BvzLUO9IfGPGGsPnAgSu1';
export const BASIC_USER = { username: 'user', password: 'password' };
/** `openssl passwd -6 -salt benchsalt 'correct horse'`: SHA-512-crypt, the default 5000 rounds. */
export const SHA512_LINE =
  'alice:$6$benchsalt$3DosytmnNQzuqRvBHJNckCHuNR0g3Mi/2162FLDuHIOV8PeZd7bCZLbED1YcCmTaQiel0/us9ZIrTPmEHXJuN/';

/** API keys of the apiKeyAuth rows: key i is `bench-key-<i>`; requests present the last. */
export const apiKeyOf = (i: number) => `bench-key-${String(i).padStart(8, '0')}`;
