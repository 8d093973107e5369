pragma circom 2.1.0;

// vAIn update proof: one chunk of K quantized update values.
//
// Public inputs (in this order in snarkjs' publicSignals):
//   bound       the job's squared-L2 norm bound for this chunk, 0 <= bound < 2^64
//   commitment  Poseidon2(root, binding), root = Poseidon16 over the K/16 Poseidon16 hashes of
//               the values (each value as a field element: -x is p - x)
//   binding     the field element tying this chunk to one update: job, round, sender, chunk index
//               and chunk count (see circuits/README.md); any other binding changes the commitment
// Private:
//   values[K]   signed quantized integers, each in [-2^(VALUE_BITS-1), 2^(VALUE_BITS-1))
//
// Constraints: every value is range-checked (so a field-wrapped "negative" cannot hide a huge
// square), sum(values[i]^2) <= bound, and the commitment matches.
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

template UpdateNorm(K, VALUE_BITS, BOUND_BITS) {
    // K must be 16 * 16 = 256 at most with this two-level Poseidon; a multiple of 16
    assert(K % 16 == 0);
    assert(K <= 256);
    // sum of squares must fit below BOUND_BITS bits so the comparison cannot wrap
    assert(2 * (VALUE_BITS - 1) + 8 < BOUND_BITS);
    assert(BOUND_BITS <= 252);

    signal input bound;
    signal input commitment;
    signal input binding;
    signal input values[K];

    var CHUNKS = K \ 16;
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

    // commitment
    component chunk[CHUNKS];
    for (var c = 0; c < CHUNKS; c++) {
        chunk[c] = Poseidon(16);
        for (var j = 0; j < 16; j++) {
            chunk[c].inputs[j] <== values[c * 16 + j];
        }
    }
    component root = Poseidon(CHUNKS);
    for (var c = 0; c < CHUNKS; c++) {
        root.inputs[c] <== chunk[c].out;
    }
    component bound2 = Poseidon(2);
    bound2.inputs[0] <== root.out;
    bound2.inputs[1] <== binding;
    commitment === bound2.out;
}

component main {public [bound, commitment, binding]} = UpdateNorm(256, 16, 64);
