// The 400 refusals of a request that cannot be decided on without guessing; built in the
// catalogue of refusals with every other one.
export {
  ambiguousHostError,
  ambiguousPathError,
  overriddenMethodError,
  repeatedHeaderError,
  repeatedQueryError,
} from '../refusals.js';
