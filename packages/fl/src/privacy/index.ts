/**
 * Privacy: DP-FedAvg (client-level L2 clipping + Gaussian noise) with an RDP accountant for the
 * sampled Gaussian mechanism that reports ε for a δ, and the cryptographic core of secure
 * aggregation (X25519 pairwise masks, self masks, Shamir sharing of seeds and keys) that
 * recovers the sum when clients drop out.
 *
 * @example
 * ```ts
 * import { computeEpsilon, dpFedAvg, fedAvg, runSecureAggregation } from '@vain/fl'
 * const strategy = fedAvg({ aggregator: dpFedAvg({ clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 10 }) })
 * const { epsilon } = computeEpsilon({ samplingRate: 10 / 100, noiseMultiplier: 1.1, steps: 30 }, 1e-5)
 * const { sum } = runSecureAggregation({ inputs: deltas, dropAfterUpload: [3] })
 * ```
 * @module
 */

export { type DistributedDpOptions, privatizeUpdate } from './distributed.js'
export {
  addGaussianNoise,
  type ClipResult,
  clipByL2Norm,
  cryptoNormalSource,
  type DpAggregator,
  type DpFedAvgInit,
  dpFedAvg,
  type NormalSource,
} from './dp.js'
export { FixedPointOverflowError, InvalidShareError, SecAggProtocolError, TooFewSurvivorsError } from './errors.js'
export {
  computeEpsilon,
  computeRdp,
  createRdpAccountant,
  DEFAULT_RDP_ORDERS,
  type PrivacySpent,
  type RdpAccountant,
  rdpToDelta,
  rdpToEpsilon,
  type SampledGaussianParams,
} from './rdp.js'
export {
  type AdvertiseKeysMessage,
  createSecAggClient,
  createSecAggServer,
  decodeFixedPoint,
  type EncryptedShare,
  encodeFixedPoint,
  expandMask,
  generateSecAggKeys,
  type MaskedInputMessage,
  type RecoverSumInput,
  type RevealedShare,
  recoverSum,
  runSecureAggregation,
  type SecAggClient,
  type SecAggConfig,
  SecAggKeys,
  type SecAggResult,
  type SecAggServer,
  type SecureAggregationRun,
  type ShareKeysMessage,
  type UnmaskingMessage,
} from './secagg.js'
export { combineShares, SHAMIR_MAX_SECRET_BYTES, SHAMIR_PRIME, type ShamirShare, splitSecret } from './shamir.js'
