pragma circom 2.1.5;

// vAIn's anonymous tier-weighted vote: the Semaphore v4 circuit, unchanged, at MAX_DEPTH 16
// (65,536 members per tier group). Public signals, in snarkjs order:
//   [merkleRoot, nullifier, message, scope]
// merkleRoot: the root of the voter's tier group at the proposal's snapshot (the lean IMT, which
//   hashes with Poseidon(2) and promotes a lone left node without hashing);
// nullifier:  Poseidon(scope, secret), one per identity per proposal;
// message:    the vote (0 against, 1 for, 2 abstain), bound to the proof;
// scope:      keccak256(abi.encode(chainid, governance, proposalId)) >> 8 (see Governance.voteScope).
include "semaphore.circom";

component main {public [message, scope]} = Semaphore(16);
