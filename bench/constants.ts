/** What the benchmark apps and their load generator agree on. */
export const ISSUER = 'https://bench.issuer';
export const AUDIENCE = 'bench';
