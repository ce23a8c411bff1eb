/** README "Modes", cell by cell: every inbound scheme is held to the same table. */
export const MODES_TABLE = [
  { mode: 'strict', credential: 'none', status: 401 },
  { mode: 'strict', credential: 'invalid', status: 401 },
  { mode: 'strict', credential: 'valid', status: 200 },
  { mode: 'optional', credential: 'none', status: 200 },
  { mode: 'optional', credential: 'invalid', status: 401 },
  { mode: 'optional', credential: 'valid', status: 200 },
  { mode: 'permissive', credential: 'none', status: 200 },
  { mode: 'permissive', credential: 'invalid', status: 200 },
  { mode: 'permissive', credential: 'valid', status: 200 },
] as const;
