/**
 * @packageDocumentation
 *
 * `@vain/chain` — the chain layer of vAIn: typed `as const` ABIs of the vAIn contracts (token
 * with permit, staking with cooldown and slashing, node registry, reputation with decay and
 * tiers, rounds settled by committee quorum with Merkle rewards, timelocked governance with votes
 * weighted by stake × tier at the proposal's snapshot); {@link deployVain} to deploy and wire them; typed viem clients whose reverts are
 * decoded into errors that say why ({@link StakeTooLowError}, {@link CooldownActiveError}...);
 * reward trees and the signed settlement result; the eligibility check "staked and tier >= required
 * for the role"; retries for a chain that is down; and {@link startLocalChain}, Hardhat's network
 * on 127.0.0.1 for demos and tests. The rules every node follows to settle rounds (votes, quorum,
 * leader, reward split, claims, slashing) are in the subpath `@vain/chain/settlement`.
 *
 * @example
 * ```ts
 * import { generateKeyPair } from '@libp2p/crypto/keys'
 * import { parseEther } from 'viem'
 * import { connectVain, deployVain, startLocalChain } from '@vain/chain'
 *
 * const chain = await startLocalChain()
 * const { addresses } = await deployVain(chain.walletClient(0))
 *
 * // the deployer holds the supply: give a node some tokens
 * const admin = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: chain.accounts[0]!.privateKey })
 * const node = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: chain.accounts[1]!.privateKey })
 * await admin.token.transfer(node.account!, parseEther('500'))
 *
 * // the node's libp2p identity: secp256k1, so that the registry can check its signature on chain
 * const peerKey = await generateKeyPair('secp256k1')
 *
 * await node.staking.stake(parseEther('100'))
 * await node.registry.register(peerKey)
 * const { tier, staked } = await node.standing()
 * console.log(`tier ${tier}, staked ${staked}`) // tier 1, staked 100000000000000000000
 *
 * await chain.stop()
 * ```
 */
export * from './abi/index.js'
export { allVainAbis } from './abi-all.js'
export * from './client.js'
export * from './deploy.js'
export * from './eligibility.js'
export * from './errors.js'
export * from './format.js'
export * from './local-chain.js'
export * from './merkle.js'
export * from './peer-binding.js'
export * from './retry.js'
export * from './roles.js'
export * from './rounds.js'
