pragma circom 2.1.0;

// vAIn update proof: one chunk of K quantized update values.
//
// Public inputs (in this order in snarkjs' publicSignals):
//   bound       the job's squared-L2 norm bound for this chunk, 0 <= bound < 2^64
//   commitment  Poseidon4(Poseidon16(w_0 … w_15), w_16, w_17, binding), w_j = the values
//               15j … 15j+14 packed as sum_t (v + 2^15) * 2^(16 t) (see below)
//   binding     the field element tying this chunk to one update: job, round, sender, update
//               length and chunk index (see circuits/README.md); any other binding changes the commitment
// Private:
//   values[K]   signed quantized integers, each in [-2^(VALUE_BITS-1), 2^(VALUE_BITS-1))
//
// Constraints: every value is range-checked (so a field-wrapped "negative" cannot hide a huge
// square), sum(values[i]^2) <= bound, and the commitment matches.
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

template UpdateNorm(K, VALUE_BITS, BOUND_BITS) {
    // the packing below fits 241 ≤ K ≤ 285 (17 to 19 packed elements)
    // sum of squares must fit below BOUND_BITS bits so the comparison cannot wrap
    assert(2 * (VALUE_BITS - 1) + 8 < BOUND_BITS);
    assert(BOUND_BITS <= 252);

    signal input bound;
    signal input commitment;
    signal input binding;
    signal input values[K];

    var OFFSET = 1 << (VALUE_BITS - 1);

    // range check: values[i] + 2^(VALUE_BITS-1) in [0, 2^VALUE_BITS)
    component range[K];
    signal squares[K];
    var sum = 0;
    for (var i = 0; i < K; i++) {
        range[i] = Num2Bits(VALUE_BITS);
        range[i].in <== values[i] + OFFSET;
        squares[i] <== values[i] * values[i];
        sum += squares[i];
    }

    // bound < 2^BOUND_BITS, then sum <= bound
    component boundBits = Num2Bits(BOUND_BITS);
    boundBits.in <== bound;
    component le = LessEqThan(BOUND_BITS);
    le.in[0] <== sum;
    le.in[1] <== bound;
    le.out === 1;

    // commitment: the range-shifted values (v + 2^15, 16 bits each, range-checked above) packed 15
    // per field element (240 bits < 254, so the packing is injective; linear, no constraints), then
    // Poseidon16 over the first 16 packed elements and Poseidon4(that, the last 2, binding)
    var PACK = 15;
    var PACKED = (K + PACK - 1) \ PACK;
    assert(PACKED > 16);
    assert(PACKED <= 19);
    var packed[PACKED];
    for (var j = 0; j < PACKED; j++) {
        packed[j] = 0;
        for (var t = 0; t < PACK; t++) {
            if (j * PACK + t < K) {
                packed[j] += (values[j * PACK + t] + OFFSET) * (1 << (VALUE_BITS * t));
            }
        }
    }
    component head = Poseidon(16);
    for (var j = 0; j < 16; j++) {
        head.inputs[j] <== packed[j];
    }
    component tail = Poseidon(PACKED - 16 + 2);
    tail.inputs[0] <== head.out;
    for (var j = 16; j < PACKED; j++) {
        tail.inputs[j - 15] <== packed[j];
    }
    tail.inputs[PACKED - 15] <== binding;
    commitment === tail.out;
}

component main {public [bound, commitment, binding]} = UpdateNorm(256, 16, 64);
