/**
 * The parts of the round, one per role; {@link defaultParts} is what a node plays by default.
 * @module
 */
import { committeeMember } from './committee-member.js'
import { regionalMember, rootMember } from './hierarchy.js'
import { secureMember, secureTrainer } from './secure.js'
import { asyncTrainer, trainer } from './trainer.js'
import type { RoundPart } from './types.js'

export { committeeMember, onCommittee } from './committee-member.js'
export { privatize, publishAggregate, signUpdate, verifiedUpdates, weightOf } from './common.js'
export { regionalMember, rootMember } from './hierarchy.js'
export { secureMember, secureTrainer } from './secure.js'
export { asyncTrainer, trainer } from './trainer.js'
export * from './types.js'

/**
 * Every part of vAIn's round: trainers (synchronous, asynchronous, secure) and members (plain
 * committee, regional, root, secure). Each decides by itself whether this node plays it in a round.
 */
export function defaultParts(): RoundPart[] {
  return [trainer(), asyncTrainer(), secureTrainer(), committeeMember(), regionalMember(), rootMember(), secureMember()]
}
