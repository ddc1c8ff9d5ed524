// Public API of the SAE library: load an SAE, encode to sparse codes, decode, and intervene.
export { loadSae, type LoadSaeOptions } from './load.ts';
export { ACTIVATION_KINDS, ARCHITECTURES, type ActivationKind, type ArchitectureEntry } from './architectures/index.ts';
export { Sae, type Activation, type SaeInfo, type SaeParts, type SaeComputeOptions, saeComputeOptions } from './sae.ts';
export { WeightMatrix, type WeightDtype } from './matrix.ts';
export { encodeSparse, decode, denseCodes, codeColumn, type SparseCodes } from './encode.ts';
export {
  makeIntervention,
  makeRowIntervention,
  type InterventionSpec,
  type ResidualEdit,
  type RowResidualEdit,
} from './intervene.ts';
