#!/usr/bin/env node
import { processIo } from './io.js'
/**
 * The `hotpath` command: `hotpath <verb> [args]`. Exit codes: 0 success (thresholds held), 1 a
 * failed verdict (thresholds), 2 a usage or input error (the message names the flag, file, line
 * or field), 130 interrupted (Ctrl-C; a load test still writes its report).
 */
import { runCli } from './run.js'

process.exitCode = await runCli(process.argv.slice(2), processIo())
