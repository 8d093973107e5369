import type { Abi } from 'viem'
import {
  governanceAbi,
  nodeRegistryAbi,
  proofChallengesAbi,
  reputationAbi,
  roundManagerAbi,
  stakingAbi,
  tierGroupsAbi,
  vainTokenAbi,
} from './abi/index.js'

/** Every error and event of the suite in one ABI (errors bubble up across contracts). */
export const allVainAbis: Abi = dedupe([
  ...vainTokenAbi,
  ...stakingAbi,
  ...reputationAbi,
  ...nodeRegistryAbi,
  ...roundManagerAbi,
  ...governanceAbi,
  ...tierGroupsAbi,
  ...proofChallengesAbi,
] as Abi).filter((item) => item.type === 'error' || item.type === 'event')

function dedupe(abi: Abi): Abi {
  const seen = new Set<string>()
  return abi.filter((item) => {
    const key = JSON.stringify(item)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
