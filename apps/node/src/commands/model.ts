/**
 * `vain model import FILE.onnx` and `vain model export CID -o FILE.onnx`: models in and out of a
 * running node, as standard ONNX files.
 * @module
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ApiClient, type ApiOptions } from './api-client.js'
import { binaryBytes, EXIT_CODES_HELP, printJson, resolvePath, UsageError } from './common.js'
import { ProgressBar } from './progress.js'
import { outputOf, withApiOptions } from './shared.js'

/** Largest ONNX file imported or exported (the API's upload limit). */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024

const CID = /^b[a-z2-7]{20,200}$/

/** Registers `model import|export`. */
export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description('import an ONNX model into a node (its content id back), export one as ONNX')
    .addHelpText('after', `\nRun vain model COMMAND --help for its options.\n${EXIT_CODES_HELP}`)

  withApiOptions(
    model
      .command('import')
      .description("upload an ONNX model to the node's model store; prints its content id (the model's address)")
      .argument('<FILE.onnx>', 'an ONNX model (float32 initializers); a path relative to where you are')
      .addHelpText(
        'after',
        '\nstdout: the content id alone (bafy…), or with --json {"address","bytes","params"}; use it as a job\nspec\'s initialModel. Needs the node\'s API token.',
      ),
  ).action(async (file: string, opts: ApiOptions, cmd: Command) => {
    const out = outputOf(cmd)
    const path = resolvePath(file)
    let size: number
    try {
      const s = await stat(path)
      if (!s.isFile()) throw new Error('not a file')
      size = s.size
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as Error).message}`)
    }
    if (size === 0) throw new UsageError(`${path} is empty: not an ONNX model`)
    if (size > MAX_MODEL_BYTES)
      throw new UsageError(
        `${path} is ${binaryBytes(size)}: more than the ${binaryBytes(MAX_MODEL_BYTES)} a node takes`,
      )
    const client = await ApiClient.from(opts)
    client.needToken('model import')
    const bytes = await readFile(path)
    const bar = new ProgressBar('uploading', out.progress)
    const r = (await client.upload(
      '/api/models',
      bytes,
      out.progress ? (sent, total) => bar.update(sent, total) : undefined,
    )) as { address: string; bytes: number; params: number }
    bar.done()
    if (out.json) {
      printJson(r)
      return
    }
    if (out.level !== 'minimal') {
      process.stderr.write(
        `imported ${path}: ${r.params} parameters, ${binaryBytes(r.bytes)} of ONNX; its content id:\n`,
      )
    }
    process.stdout.write(`${r.address}\n`)
  })

  withApiOptions(
    model
      .command('export')
      .description('save a model the node holds (its content id) as a standard ONNX inference model')
      .argument('<CID>', "the model's content id (a job's model, vain job status; or vain model import's)")
      .requiredOption('-o, --output <FILE.onnx>', 'the file to write; a path relative to where you are'),
  ).action(async (address: string, opts: ApiOptions & { output: string }, cmd: Command) => {
    const out = outputOf(cmd)
    if (!CID.test(address)) throw new UsageError(`'${address}' is not a model's content id (bafy…)`)
    const file = resolvePath(opts.output)
    const client = await ApiClient.from(opts)
    const bar = new ProgressBar('downloading', out.progress)
    const bytes = await client.bytes(`/api/models/${address}/onnx`, {
      maxBytes: MAX_MODEL_BYTES,
      onProgress: (n, total) => bar.update(n, total),
    })
    bar.done()
    try {
      await writeFile(file, bytes)
    } catch (err) {
      throw new UsageError(`cannot write ${file}: ${(err as Error).message}`)
    }
    if (out.json) printJson({ address, file, bytes: bytes.byteLength })
    else process.stdout.write(`wrote ${bytes.byteLength} bytes to ${file}\n`)
  })
}
