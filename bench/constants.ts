/** What the benchmark apps and their load generator agree on. */
export const ISSUER = 'https://bench.issuer';
export const AUDIENCE = 'bench';

/** The Apache documentation's apr1 vector: user / password. */
export const APR1_LINE = 'user:$apr1$TYiryv0/$8BvzLUO9IfGPGGsPnAgSu1';
export const BASIC_USER = { username: 'user', password: 'password' };

/** API keys of the apiKeyAuth rows: key i is `bench-key-<i>`; requests present the last. */
export const apiKeyOf = (i: number) => `bench-key-${String(i).padStart(8, '0')}`;
