import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { strictFlags, subcommandArgs, UsageError } from '../cli-options.js';
import { isHttpUrl } from '../config.js';
import { scenarioFromWorkspace, scenarioYaml } from '../import/index.js';
import { count } from '../import/workspace-scenario.js';
import { ScenarioError } from '../service/scenarios/errors.js';
import { hasUserinfo, startProxy, type RunningProxy } from './server.js';

/**
 * `frontier-gateway-mock proxy`: the validating proxy in front of a Frontier Gateway
 * deployment (or a mock), standalone until SIGINT/SIGTERM, or wrapped around a command
 * (`-- npm test`) whose traffic it judges. Flags -> ProxyArgs is pure and unit-tested.
 */

export const PROXY_HELP = `frontier-gateway-mock proxy: forward traffic to a Frontier Gateway deployment unchanged,
and check every exchange against what the documentation guarantees

Usage: frontier-gateway-mock proxy --upstream URL [options] [-- command args...]
       npx frontier-gateway-mock proxy --upstream https://api.baseten.co \\
           --inference-upstream https://inference.baseten.co -- npm test

Every request is forwarded as it came (method, path, query, headers but the hop-by-hop
ones and Host, body) and every response comes back unchanged, byte for byte, an event
stream chunk by chunk. Each exchange is judged with the conformance suite's documented
rules and rule ids: the documented view of the spec, the documented error and rate-limit
forms, and the stateful rules visible in traffic (set semantics, effective_models,
revoked keys, deleted subtrees, drained lists). Secrets are never kept or reported.

Upstreams
  --upstream URL             the management API, e.g. https://api.baseten.co (required)
  --inference-upstream URL   where /v1/chat/completions and /v1/models go
                             (default: --upstream), e.g. https://inference.baseten.co

Server
  --port N                   port to listen on (default 4011; 0 = any free port;
                             with a command, default 0)
  --host ADDR                address to bind (default 127.0.0.1)
  --quiet                    no line per violation on stderr

Reports (written on exit: SIGINT, SIGTERM, or when the command ends)
  --report-json FILE         the report as JSON (the conformance report's format)
  --report-junit FILE        the report as JUnit XML, for CI
  --record FILE              what the proxy learned of the upstream's workspace (groups with
                             their hierarchy, models and limits; endpoints; key prefixes and
                             names) as a scenario file the mock loads (--scenario FILE); its
                             keys get fresh local secrets, kept in the file
  Also on demand: GET /_proxy/report.json, /_proxy/report.xml; live: /_proxy/ (the
  inspector, with each exchange's verdicts), /_proxy/inspector.json, /_proxy/learned.json

Wrapping a command
  -- command args...         start the proxy, run the command with FGW_BASE_URL,
                             FGW_INFERENCE_BASE_URL and FGW_PROXY_URL set to the proxy
                             and OPENAI_BASE_URL to the proxy's /v1, then write the
                             reports and exit: the command's status if it failed,
                             else 1 on any violation, else 0
  -h, --help                 this help

Exit status: 0 no violation; 1 a violation (or the command's own non-zero status);
2 a usage error or the proxy could not start.
Every exit prints one line: proxy: N exchanges, N violations, N observations

Examples
  npm start -- --port 4010 &                                 # a mock to stand in for a deployment
  npx frontier-gateway-mock proxy --upstream http://127.0.0.1:4010 --port 4011 --report-junit reports/proxy.junit.xml
  npx frontier-gateway-mock proxy --upstream http://127.0.0.1:4010 --report-json reports/proxy.json -- npm test
`;

export interface ProxyArgs {
  upstream: string;
  inferenceUpstream?: string;
  port: number;
  host: string;
  quiet: boolean;
  /** Absolute. */
  reportJson?: string;
  reportJunit?: string;
  /** Absolute: where the learned workspace is written as a scenario. */
  record?: string;
  /** The command to wrap, or empty. */
  command: string[];
}

/** Flags -> what to run; pure. */
export function parseProxyCli(argv: string[], cwd: string): ProxyArgs | 'help' {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const values = strictFlags(
    own,
    {
      upstream: { type: 'string' },
      'inference-upstream': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      quiet: { type: 'boolean' },
      'report-json': { type: 'string' },
      'report-junit': { type: 'string' },
      record: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    (m) => new UsageError(/^Unexpected argument/.test(m) ? `${m}; a command to wrap goes after --, e.g. proxy --upstream URL -- npm test` : m),
  );
  if (values.help) return 'help';
  if (dash >= 0 && command.length === 0) throw new UsageError('-- must be followed by the command to run, e.g. -- npm test');
  if (values.upstream === undefined) throw new UsageError('--upstream URL is required: the management API to forward to, e.g. https://api.baseten.co');
  for (const [flag, v] of [['--upstream', values.upstream], ['--inference-upstream', values['inference-upstream']]] as const) {
    if (v !== undefined && !isHttpUrl(v)) throw new UsageError(`${flag} must be an http(s) URL, not "${v}"`);
    if (v !== undefined && /[?#]/.test(v)) throw new UsageError(`${flag} must not have a query or fragment: "${v}"`);
    if (v !== undefined && hasUserinfo(v)) throw new UsageError(`${flag} must not carry a user name or password: the gateway authenticates with the Api-Key header your client sends, and the proxy would show them in its banner and reports`);
  }
  const portText = values.port ?? (command.length ? '0' : '4011');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, not "${portText}"`);
  const host = values.host ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host must not be empty');
  const file = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (v === '') throw new UsageError(`${flag} must name a file`);
    return isAbsolute(v) ? v : resolve(cwd, v);
  };
  const reportJson = file('--report-json', values['report-json']);
  const reportJunit = file('--report-junit', values['report-junit']);
  const record = file('--record', values.record);
  return {
    upstream: values.upstream,
    ...(values['inference-upstream'] !== undefined ? { inferenceUpstream: values['inference-upstream'] } : {}),
    port,
    host,
    quiet: values.quiet === true,
    ...(reportJson ? { reportJson } : {}),
    ...(reportJunit ? { reportJunit } : {}),
    ...(record ? { record } : {}),
    command,
  };
}

/** The variables a wrapped command gets: the proxy as its gateway. */
export function wrappedEnv(proxyUrl: string): Record<string, string> {
  return { FGW_BASE_URL: proxyUrl, FGW_INFERENCE_BASE_URL: proxyUrl, FGW_PROXY_URL: proxyUrl, OPENAI_BASE_URL: `${proxyUrl}/v1` };
}

export function summaryLine(t: { exchanges: number; violations: number; observations: number }): string {
  return `proxy: ${count(t.exchanges, 'exchange')}, ${count(t.violations, 'violation')}, ${count(t.observations, 'observation')}`;
}

const say = (line: string) => process.stderr.write(`frontier-gateway-mock proxy: ${line}\n`);

async function writeReports(proxy: RunningProxy, args: ProxyArgs): Promise<void> {
  const write = (file: string, text: string) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  };
  if (args.reportJson) write(args.reportJson, `${JSON.stringify(await proxy.report(), null, 2)}\n`);
  if (args.reportJunit) write(args.reportJunit, await proxy.junit());
  if (args.record) {
    try {
      const result = scenarioFromWorkspace(proxy.learned(), { description: `Workspace recorded through frontier-gateway-mock proxy from ${proxy.upstream}.` });
      write(args.record, scenarioYaml(result, { source: proxy.upstream, at: Date.now(), by: 'frontier-gateway-mock proxy --record (what its traffic showed)' }));
      const s = result.scenario;
      say(`recorded ${count(s.groups?.length ?? 0, 'group')}, ${count(s.endpoints?.length ?? 0, 'endpoint')}, ${count(result.secrets.length, 'key')} to ${args.record} (fresh local key secrets, in the file only)${result.warnings.length ? `; not recorded: ${result.warnings.join('; ')}` : ''}`);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      say(`what the proxy saw does not make a valid scenario (${args.record} not written): ${e.problems.join('; ')}`);
    }
  }
}

export async function proxyMain(argv: string[]): Promise<number> {
  const args = subcommandArgs(() => parseProxyCli(argv, process.cwd()), PROXY_HELP, say);
  if (typeof args === 'number') return args;
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({ upstream: args.upstream, ...(args.inferenceUpstream ? { inferenceUpstream: args.inferenceUpstream } : {}), port: args.port, host: args.host });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    say(err.code === 'EADDRINUSE' ? `${args.host}:${args.port} is already in use; pick another with --port` : `cannot start: ${err.message}`);
    return 2;
  }
  const inference = proxy.inferenceUpstream !== proxy.upstream ? ` (inference: ${proxy.inferenceUpstream})` : '';
  process.stderr.write(`frontier-gateway-mock proxy listening on ${proxy.url}, forwarding to ${proxy.upstream}${inference}; inspector at ${proxy.url}/_proxy/\n`);
  let reported = 0;
  const tell = setInterval(() => {
    if (args.quiet) return;
    const all = proxy.verdicts();
    for (const v of all.slice(reported)) if (v.kind === 'violation') process.stderr.write(`proxy: violation [${v.rule}] ${v.message}\n`);
    reported = all.length;
  }, 200);
  const stop = async (): Promise<void> => {
    clearInterval(tell);
    if (!args.quiet) for (const v of proxy.verdicts().slice(reported)) if (v.kind === 'violation') process.stderr.write(`proxy: violation [${v.rule}] ${v.message}\n`);
    await writeReports(proxy, args);
    await proxy.close();
    process.stdout.write(`${summaryLine(proxy.totals())}\n`);
  };
  if (args.command.length === 0) {
    return new Promise<number>((done) => {
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        void stop().then(() => done(proxy.totals().violations > 0 ? 1 : 0));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
  }
  const [cmd, ...rest] = args.command as [string, ...string[]];
  const child = spawn(cmd, rest, { stdio: 'inherit', env: { ...process.env, ...wrappedEnv(proxy.url) } });
  // Signals reach the command (same process group); the proxy waits for it to end.
  // Ctrl-C reaches the whole process group, the command included; a SIGTERM sent to the
  // proxy alone (a CI timeout) is passed on. Either way the proxy waits for the command
  // to end, then writes its reports.
  const pass = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGINT', () => {});
  process.on('SIGTERM', pass('SIGTERM'));
  const code = await new Promise<number>((done) => {
    child.on('error', (e) => {
      say(`cannot run ${cmd}: ${e.message}`);
      done(127);
    });
    // A command killed by a signal exits 128 + its number, as a shell reports it.
    child.on('exit', (c, signal) => done(c ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1)));
  });
  await stop();
  if (code !== 0) return code;
  return proxy.totals().violations > 0 ? 1 : 0;
}
