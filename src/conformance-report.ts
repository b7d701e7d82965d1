/**
 * The conformance suite's report model, shared by the suite's reporters (which build it
 * from a vitest run, test/conformance/support/) and by `frontier-gateway-mock conformance`
 * (which reads it back for --min-coverage and --compare-with-mock). Pure functions over
 * plain data: coverage, the per-operation table, the self-contained HTML page, and the
 * differences between two runs.
 */

export type RuleKind = 'documented' | 'mock-choice' | 'observation';

/**
 * What became of a rule in one run. `not-exercised`: the rule is known but did not run
 * (a dry run's "would run", or a filter left its file out).
 */
export type RuleStatus = 'passed' | 'failed' | 'skipped' | 'not-exercised';

export interface RuleRecord {
  /** Stable: `<file>/<the rule's name, slugified>`, e.g. `lifecycle/the-seed-quick-start-...`. */
  id: string;
  name: string;
  /** The topic (the file's top-level describe). */
  area: string;
  file: string;
  kind: RuleKind;
  /** The documentation page (or seed page) behind a documented rule; `AMBIGUITIES.md #N` for a mock choice. */
  source: string;
  ambiguity?: string;
  status: RuleStatus;
  skipReason?: string;
  /** The first lines of the failure. */
  error?: string;
  observations: string[];
  /** The spec's operationIds the rule's requests reached. */
  operations: string[];
  durationMs?: number;
}

export interface Coverage {
  /** Documented rules the suite knows. */
  documented: number;
  /** Documented rules that ran on this target (passed or failed, not skipped). */
  exercised: number;
  /** exercised / documented, in %, one decimal. */
  percent: number;
}

export interface OperationRow {
  operation: string;
  passed: number;
  failed: number;
  skipped: number;
  /** `exercised` when at least one rule reached it, else `not exercised`. */
  status: 'exercised' | 'not exercised';
  rules: string[];
}

export interface ConformanceReport {
  format: 'frontier-gateway-mock/conformance-report';
  version: 1;
  target: { kind: string; baseUrl: string | null; inferenceBaseUrl: string | null; runId: string; dryRun: boolean; capabilities: string[] };
  createdAt: string;
  totals: { rules: number; passed: number; failed: number; skipped: number; notExercised: number; observations: number };
  coverage: Coverage;
  operations: OperationRow[];
  rules: RuleRecord[];
  /** Errors outside any rule (a file that did not load). */
  errors: string[];
}

/** `The seed quick-start` -> `the-seed-quick-start`: the name part of a rule id. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Ids unique within a run: a second rule of the same name in a file gets `-2`. */
export function uniqueIds<T extends { id: string }>(rules: T[]): T[] {
  const seen = new Map<string, number>();
  for (const r of rules) {
    const n = (seen.get(r.id) ?? 0) + 1;
    seen.set(r.id, n);
    if (n > 1) r.id = `${r.id}-${n}`;
  }
  return rules;
}

export function coverageOf(rules: readonly RuleRecord[]): Coverage {
  const documented = rules.filter((r) => r.kind === 'documented');
  const exercised = documented.filter((r) => r.status === 'passed' || r.status === 'failed').length;
  return { documented: documented.length, exercised, percent: documented.length ? Math.round((exercised / documented.length) * 1000) / 10 : 0 };
}

/** One row per operation: the spec's (`known`, so one no rule reached says so) and any other a rule reached. */
export function operationTable(rules: readonly RuleRecord[], known: readonly string[]): OperationRow[] {
  const rows = new Map<string, OperationRow>();
  const row = (operation: string) => {
    let r = rows.get(operation);
    if (!r) rows.set(operation, (r = { operation, passed: 0, failed: 0, skipped: 0, status: 'not exercised', rules: [] }));
    return r;
  };
  for (const op of known) row(op);
  for (const rule of rules) {
    for (const op of rule.operations) {
      const r = row(op);
      r.rules.push(rule.id);
      if (rule.status === 'passed') r.passed++;
      else if (rule.status === 'failed') r.failed++;
      else r.skipped++;
      if (rule.status === 'passed' || rule.status === 'failed') r.status = 'exercised';
    }
  }
  return [...rows.values()];
}

export function buildReport(target: ConformanceReport['target'], rules: RuleRecord[], knownOperations: readonly string[], errors: string[] = [], now = new Date()): ConformanceReport {
  const count = (s: RuleStatus) => rules.filter((r) => r.status === s).length;
  return {
    format: 'frontier-gateway-mock/conformance-report',
    version: 1,
    target,
    createdAt: now.toISOString(),
    totals: {
      rules: rules.length,
      passed: count('passed'),
      failed: count('failed'),
      skipped: count('skipped'),
      notExercised: count('not-exercised'),
      observations: rules.reduce((n, r) => n + r.observations.length, 0),
    },
    coverage: coverageOf(rules),
    operations: operationTable(rules, knownOperations),
    rules,
    errors,
  };
}

/** The one-line coverage figure, as the terminal summary and the command print it. */
export function coverageLine(c: Coverage): string {
  return `coverage: ${c.exercised} of ${c.documented} documented rules exercised on this target (${c.percent}%)`;
}

// ---------------------------------------------------------------------------------------
// Comparing two runs (--compare-with-mock)

export interface Difference {
  id: string;
  name: string;
  area: string;
  kind: RuleKind;
  /** What differs: `status`, `observations`, or `missing` (a rule only one run knows). */
  what: ('status' | 'observations' | 'missing')[];
  target: { status: RuleStatus | 'absent'; skipReason?: string; error?: string; observations: string[] };
  mock: { status: RuleStatus | 'absent'; skipReason?: string; error?: string; observations: string[] };
}

export interface Comparison {
  format: 'frontier-gateway-mock/conformance-compare';
  version: 1;
  target: ConformanceReport['target'];
  mock: ConformanceReport['target'];
  rulesCompared: number;
  differences: Difference[];
}

const side = (r: RuleRecord | undefined): Difference['target'] =>
  r
    ? { status: r.status, ...(r.skipReason ? { skipReason: r.skipReason } : {}), ...(r.error ? { error: r.error } : {}), observations: r.observations }
    : { status: 'absent', observations: [] };

/**
 * Every rule whose outcome differs between a run against the target and one against the
 * mock: its status (passed, failed, skipped), or what it observed (a status or a field
 * where the docs leave room). Rules in the order of the target's run.
 */
export function compareReports(target: ConformanceReport, mock: ConformanceReport): Comparison {
  const byId = new Map(mock.rules.map((r) => [r.id, r]));
  const ids = [...target.rules.map((r) => r.id), ...mock.rules.map((r) => r.id).filter((id) => !target.rules.some((t) => t.id === id))];
  const targetById = new Map(target.rules.map((r) => [r.id, r]));
  const differences: Difference[] = [];
  for (const id of ids) {
    const t = targetById.get(id);
    const m = byId.get(id);
    const what: Difference['what'] = [];
    if (!t || !m) what.push('missing');
    else {
      if (t.status !== m.status) what.push('status');
      const norm = (list: string[]) => [...new Set(list)].sort().join('\n');
      if (norm(t.observations) !== norm(m.observations)) what.push('observations');
    }
    if (what.length === 0) continue;
    const any = (t ?? m) as RuleRecord;
    differences.push({ id, name: any.name, area: any.area, kind: any.kind, what, target: side(t), mock: side(m) });
  }
  return { format: 'frontier-gateway-mock/conformance-compare', version: 1, target: target.target, mock: mock.target, rulesCompared: ids.length, differences };
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const outcome = (s: Difference['target']) =>
  [s.status + (s.skipReason ? `: ${s.skipReason}` : ''), ...(s.error ? [`error: ${s.error.split('\n')[0]}`] : []), ...s.observations.map((o) => `ℹ ${o}`)];

/** The side-by-side table for the terminal. */
export function renderComparisonText(c: Comparison, width = 60): string {
  if (c.differences.length === 0) return `No differences: the ${c.rulesCompared} rules came out the same against the target and the mock.\n`;
  const out = [`${c.differences.length} of ${c.rulesCompared} rules differ between the target (${c.target.baseUrl ?? c.target.kind}) and the mock:`, ''];
  const pad = (s: string) => clip(s, width).padEnd(width);
  out.push(`  ${pad('TARGET')} | MOCK`);
  for (const d of c.differences) {
    out.push('', `• ${d.id} [${d.kind}] (${d.what.join(', ')})`, `  ${d.name}`);
    const left = outcome(d.target);
    const right = outcome(d.mock);
    for (let i = 0; i < Math.max(left.length, right.length); i++) out.push(`  ${pad(left[i] ?? '')} | ${clip(right[i] ?? '', width)}`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// The HTML page

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const KIND_LABEL: Record<RuleKind, string> = { documented: 'documented', 'mock-choice': 'mock choice', observation: 'observation' };
const STATUS_MARK: Record<RuleStatus | 'absent', string> = { passed: '✓ passed', failed: '✗ failed', skipped: '○ skipped', 'not-exercised': '· not exercised', absent: '— absent' };

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}.skipped,.not-exercised,.absent{color:#6e7781}
.big{font-size:1.6rem;font-weight:600}.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}pre{white-space:pre-wrap;margin:.2rem 0;background:#fff8f8;padding:.3rem}
.obs{color:#0550ae}.small{color:#57606a;font-size:12px}.meter{height:.6rem;background:#eaeef2;border-radius:3px;overflow:hidden}.meter>div{height:100%;background:#1a7f37}`;

function sideCell(s: Difference['target']): string {
  return [
    `<div class="${s.status}">${escapeHtml(STATUS_MARK[s.status])}${s.skipReason ? `: ${escapeHtml(s.skipReason)}` : ''}</div>`,
    ...(s.error ? [`<pre>${escapeHtml(s.error)}</pre>`] : []),
    ...s.observations.map((o) => `<div class="obs">ℹ ${escapeHtml(o)}</div>`),
  ].join('');
}

/** One self-contained page (no scripts, no external assets): totals and coverage, operations, every rule; the comparison when given. */
export function renderHtml(r: ConformanceReport, comparison?: Comparison): string {
  const t = r.target;
  const where = t.baseUrl ? `${t.baseUrl}${t.inferenceBaseUrl && t.inferenceBaseUrl !== t.baseUrl ? ` (inference ${t.inferenceBaseUrl})` : ''}` : t.kind;
  const c = r.coverage;
  const areas = new Map<string, RuleRecord[]>();
  for (const rule of r.rules) areas.set(rule.area, [...(areas.get(rule.area) ?? []), rule]);
  const parts: string[] = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>Frontier Gateway conformance: ${escapeHtml(where)}</title><style>${STYLE}</style></head><body>`,
    `<h1>Frontier Gateway conformance${t.dryRun ? ' plan (dry run)' : ''}</h1>`,
    `<p>Target: <code>${escapeHtml(where)}</code> · run <code>${escapeHtml(t.runId)}</code> · ${escapeHtml(r.createdAt)}${t.capabilities.length ? ` · capabilities: ${escapeHtml(t.capabilities.join(', '))}` : ''}</p>`,
    '<div class="cards">',
    `<div class="card"><div class="big">${c.percent}%</div>coverage: ${c.exercised} of ${c.documented} documented rules exercised<div class="meter"><div style="width:${Math.min(100, c.percent)}%"></div></div></div>`,
    `<div class="card"><div class="big passed">${r.totals.passed}</div>passed</div>`,
    `<div class="card"><div class="big failed">${r.totals.failed}</div>failed</div>`,
    `<div class="card"><div class="big skipped">${r.totals.skipped}</div>skipped</div>`,
    ...(r.totals.notExercised ? [`<div class="card"><div class="big not-exercised">${r.totals.notExercised}</div>not exercised</div>`] : []),
    `<div class="card"><div class="big obs">${r.totals.observations}</div>observations (not failures)</div>`,
    '</div>',
    ...(r.errors.length ? ['<h2>Errors outside any rule</h2>', ...r.errors.map((e) => `<pre>${escapeHtml(e)}</pre>`)] : []),
  ];
  if (comparison) {
    parts.push(
      `<h2 id="compare">Differences from the mock (${comparison.differences.length} of ${comparison.rulesCompared} rules)</h2>`,
      '<p class="small">The same suite, with the same options, against the target and against an in-process frontier-gateway-mock: every rule whose status or observations differ.</p>',
    );
    if (comparison.differences.length) {
      parts.push('<table><tr><th>Rule</th><th>Target</th><th>Mock</th></tr>');
      for (const d of comparison.differences) {
        parts.push(`<tr><td><code>${escapeHtml(d.id)}</code><br>[${escapeHtml(KIND_LABEL[d.kind])}] ${escapeHtml(d.name)}<div class="small">differs in: ${escapeHtml(d.what.join(', '))}</div></td><td>${sideCell(d.target)}</td><td>${sideCell(d.mock)}</td></tr>`);
      }
      parts.push('</table>');
    } else parts.push('<p>No differences.</p>');
  }
  parts.push('<h2>Operations</h2><table><tr><th>Operation</th><th>Status</th><th>Rules passed</th><th>failed</th><th>skipped</th></tr>');
  for (const o of r.operations) {
    parts.push(`<tr><td><code>${escapeHtml(o.operation)}</code></td><td class="${o.status === 'exercised' ? 'passed' : 'not-exercised'}">${escapeHtml(o.status)}</td><td>${o.passed}</td><td${o.failed ? ' class="failed"' : ''}>${o.failed}</td><td>${o.skipped}</td></tr>`);
  }
  parts.push('</table><h2>Rules</h2>');
  for (const [area, rules] of areas) {
    const failed = rules.filter((x) => x.status === 'failed').length;
    parts.push(`<h3>${escapeHtml(area)} <span class="small">(${rules.filter((x) => x.status === 'passed').length} passed${failed ? `, ${failed} failed` : ''}, ${rules.filter((x) => x.status === 'skipped').length} skipped)</span></h3>`);
    parts.push('<table><tr><th>Status</th><th>Rule</th><th>Kind</th><th>Source</th><th>Operations</th></tr>');
    for (const x of rules) {
      const detail = [
        ...(x.skipReason ? [`<div class="small">${escapeHtml(x.skipReason)}</div>`] : []),
        ...(x.error ? [`<pre>${escapeHtml(x.error)}</pre>`] : []),
        ...x.observations.map((o) => `<div class="obs">ℹ observation: ${escapeHtml(o)}</div>`),
      ].join('');
      parts.push(
        `<tr id="${escapeHtml(x.id)}"><td class="${x.status}">${escapeHtml(STATUS_MARK[x.status])}</td><td>${escapeHtml(x.name)}<div class="small"><code>${escapeHtml(x.id)}</code></div>${detail}</td><td>${escapeHtml(KIND_LABEL[x.kind])}${x.ambiguity ? ` #${escapeHtml(x.ambiguity)}` : ''}</td><td>${escapeHtml(x.source)}</td><td>${x.operations.map((o) => `<code>${escapeHtml(o)}</code>`).join(' ')}</td></tr>`,
      );
    }
    parts.push('</table>');
  }
  parts.push('<p class="small">Written by frontier-gateway-mock conformance. Kinds: documented (the documentation guarantees it; counts toward coverage), mock choice (the mock&#39;s own choice where the docs are silent, AMBIGUITIES.md), observation (useful to know, never a failure on a live target).</p></body></html>\n');
  return parts.join('\n');
}

/** The operationIds of the gateway's published operations (management and inference), for the per-operation table. */
export async function gatewayOperationIds(): Promise<string[]> {
  const { loadSpecs } = await import('./http/spec.js');
  return (await loadSpecs(false)).operations.filter((op) => op.document === 'gateway').map((op) => op.id);
}

// ---------------------------------------------------------------------------------------
// JUnit XML

const xml = (s: unknown) =>
  String(s)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);

/**
 * The report as JUnit XML, for CI tools that read test results: one testsuite per area,
 * one testcase per rule (classname: its file; name: the rule), a failure for a failed rule,
 * `skipped` for a rule skipped or not exercised, and each observation as a property.
 * Written by the validating proxy (src/proxy/); the suite's own JUnit file comes from
 * vitest's reporter, with the same rules in the same places.
 */
export function renderJunit(r: ConformanceReport, name = 'frontier-gateway-mock'): string {
  const areas = new Map<string, RuleRecord[]>();
  for (const rule of r.rules) areas.set(rule.area, [...(areas.get(rule.area) ?? []), rule]);
  const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(3);
  const out = [
    '<?xml version="1.0" encoding="UTF-8" ?>',
    `<testsuites name="${xml(name)}" tests="${r.totals.rules}" failures="${r.totals.failed}" errors="${r.errors.length}" time="0">`,
  ];
  for (const [area, rules] of areas) {
    const failures = rules.filter((x) => x.status === 'failed').length;
    const skipped = rules.filter((x) => x.status === 'skipped' || x.status === 'not-exercised').length;
    out.push(`  <testsuite name="${xml(area)}" timestamp="${xml(r.createdAt)}" tests="${rules.length}" failures="${failures}" errors="0" skipped="${skipped}" time="0">`);
    for (const x of rules) {
      out.push(`    <testcase classname="${xml(x.file)}" name="${xml(x.name)}" time="${seconds(x.durationMs)}">`);
      if (x.observations.length || x.kind !== 'documented') {
        out.push('      <properties>');
        out.push(`        <property name="id" value="${xml(x.id)}"/>`);
        out.push(`        <property name="kind" value="${xml(x.kind)}"/>`);
        for (const o of x.observations) out.push(`        <property name="observation" value="${xml(o)}"/>`);
        out.push('      </properties>');
      }
      if (x.status === 'failed') out.push(`      <failure message="${xml((x.error ?? 'failed').split('\n')[0])}" type="AssertionError">${xml(x.error ?? '')}</failure>`);
      else if (x.status === 'skipped' || x.status === 'not-exercised') out.push(`      <skipped message="${xml(x.skipReason ?? x.status)}"/>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
