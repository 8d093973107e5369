/** Size of the BN254 (bn128) scalar field, the field every circom signal lives in. */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

/** Values one update proof covers (the `K` of `circuits/update/update_norm.circom`). */
export const UPDATE_CHUNK_VALUES = 256

/** Smallest value an update proof accepts: the circuit range-checks every value to int16. */
export const UPDATE_VALUE_MIN = -32768

/** Largest value an update proof accepts (int16; the int8 codec's values fit). */
export const UPDATE_VALUE_MAX = 32767

/** A chunk's norm bound must be below 2^64 (the circuit's comparison width). */
export const UPDATE_BOUND_LIMIT = 1n << 64n
