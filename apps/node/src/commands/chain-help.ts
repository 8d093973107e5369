/**
 * Help texts of the chain commands and `vain chain up|deploy`: kept apart from the commands (which
 * load viem and the chain client) so that `vain --help` loads nothing heavy.
 * @module
 */

/** The chain commands (../chain-cli.ts runs them). */
export const CHAIN_COMMANDS = ['stake', 'unstake', 'tier', 'propose', 'vote', 'proposal'] as const

/** Help text of the chain commands. */
export const CHAIN_HELP = `chain commands (stake, tiers, governance):
  vain stake AMOUNT [options]          stake AMOUNT VAIN (asks first on a terminal)
  vain unstake AMOUNT [options]        start the cooldown for AMOUNT VAIN of stake (asks first)
  vain unstake --withdraw [options]    withdraw unstaked VAIN once the cooldown is over
  vain tier [ADDRESS] [options]        stake, reputation, tier and roles of this node (or ADDRESS)
  vain propose -m TEXT ACTION... [options]
                                       propose parameter changes or a slash to governance
  vain vote ID for|against|abstain     vote on a proposal (weight = your stake × your tier 1/2/3,
                                       both as they were when the proposal was made)
  vain vote join [options]             put this node's anonymous-vote identity (derived from its
                                       key, always the same) in its tier's group on chain
  vain vote ID for|against|abstain --anonymous (--relayer-account N | --relayer-key-file FILE)
                                       vote without revealing which node you are: prove (Groth16,
                                       zero knowledge) that you were in a tier group when the
                                       proposal was made; a relayer sends the vote, so your address
                                       is not the sender. Weight = tier × that tier's minimum stake.
                                       One vote per node per proposal (a nullifier). In production
                                       the relayer is any third party: the proof binds the proposal
                                       and the vote, so a relayer can neither change nor replay it.
                                       A group member votes on proposals made after it joined only
                                       anonymously.
  vain proposal ID [--queue|--execute] a proposal's state and votes; move it along

chain options:
  -c, --config FILE        config file with a "chain" section (rpcUrl, account or privateKey, addresses)
      --chain FILE         the chain file vain chain up / vain chain deploy wrote
      --rpc URL            JSON-RPC endpoint (overrides the file)
      --addresses FILE     JSON with the suite's addresses (or a config file with chain.addresses)
      --account N          a local chain's development account N (Hardhat's mnemonic)
      --key-file FILE      the key in FILE (0x + 64 hex, mode 0600)
                           otherwise the key comes from chain.privateKey or VAIN_PRIVATE_KEY
      --retries N          attempts while the chain is unreachable (default 6, with backoff)
  -d, --data-dir DIR       the node's data dir: stake also registers its peer id on chain
  -y, --yes                do not ask for confirmation (required when not on a terminal)
      --json               one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...})
      --anonymous          vote: anonymously (see above)
      --relayer-account N  vote --anonymous: development account N sends the vote (pays its gas)
      --relayer-key-file FILE
                           vote --anonymous: the relayer's key (0x + 64 hex, mode 0600)

propose actions (one or more):
  --set-min-stake A,B,C    minimum stake of tiers 1,2,3 (VAIN)
  --set-min-reputation A,B,C
  --set-cooldown SECONDS   unstake cooldown
  --set-committee-tier N   tier committee members need
  --set-dissent-penalty VAIN,REPUTATION
  --slash ADDRESS:AMOUNT   slash AMOUNT VAIN of ADDRESS's stake
  --action TARGET:CALLDATA any call (hex calldata)
`

/** Help text of `vain chain`. */
export const CHAIN_UP_HELP = `a chain outside the nodes:
  vain chain up [options]              run a local development chain on 127.0.0.1 in this process,
                                       deploy the vAIn suite, write a chain file, run until Ctrl-C
      --port N             JSON-RPC port (default 8545; 0 = any free port)
      --out FILE           the chain file to write (default ./vain-chain.json)
      --params P           development (default) | production (see below)
      --fund N             give development accounts 1..N 20,000 VAIN each (default 10)
      --genesis N          the network's genesis set: development accounts 1..N start at tier 3
                           (with reputation that decays unless they keep settling rounds)
      --json               one JSON line when ready
  vain chain deploy --rpc URL [options]
                                       deploy the suite on any EVM JSON-RPC endpoint
      --out FILE           the chain file to write (default ./vain-chain.json)
      --params P           production (default) | development
      --key-file FILE      the deployer's key (0x + 64 hex, mode 0600); else VAIN_PRIVATE_KEY
      --genesis ADDR,…     the network's genesis set (start at tier 3; needed with production
                           parameters, where tiers 2 and 3 also need reputation)
  Then: vain start --chain FILE -d DIR (--account N | --key-file FILE), and the chain commands
  (vain stake, vain tier, vain vote join, ...) take --chain FILE too. Both deploy the
  anonymous-voting contracts (TierGroups, VoteVerifier) with the suite; the file lists them.
  Profiles: development — stake alone decides the tier, short cooldown and voting periods, and the
  deployer KEEPS every admin role (it may open rounds and change parameters); production — the
  suite's defaults, and every admin role goes to governance (no account keeps one; only
  governance may grant the role that opens rounds).
`
