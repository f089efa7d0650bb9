// Writes the README's conformance tables from the reports the conform tests saved (see
// scripts/conform-readme.sh): one column per peer, one row per probe, then what each departure from
// the spec was and what it means for a client, then what nginx sent to `fcgi conform --listen`.
//   node scripts/conform-readme.mjs DIR README.md

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { summaryText } from '../dist/cli/conform/listen-report.js';

const [dir, readme] = process.argv.slice(2);
if (!dir || !readme) throw new Error('usage: node scripts/conform-readme.mjs DIR README.md');

/** The version a command prints (on stdout or stderr, as nginx -v does), or null when the tool is missing. */
function version(command, args, pattern) {
  const ran = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${ran.stdout ?? ''}${ran.stderr ?? ''}`)?.[1] ?? null;
}

const PEERS = [
  { file: 'ours', name: 'our server' },
  { file: 'php-fpm', name: `php-fpm ${version('sh', ['-c', 'php-fpm8.2 -v || php-fpm -v'], /PHP (\S+)/)}` },
  { file: 'fcgi2', name: `fcgi2 ${version('dpkg-query', ['-W', '-f', '${Version}', 'libfcgi0ldbl'], /^([\d.]+)/)} C app` },
  { file: 'perl', name: `Perl FCGI ${version('perl', ['-MFCGI', '-e', 'print $FCGI::VERSION'], /^(\S+)/)}` },
  { file: 'go', name: `Go ${version('go', ['version'], /go version go(\S+)/)} net/http/fcgi` },
].filter((p) => existsSync(join(dir, `${p.file}.json`)));
const reports = PEERS.map((p) => ({ ...p, report: JSON.parse(readFileSync(join(dir, `${p.file}.json`), 'utf8')) }));
if (reports.length === 0) throw new Error(`no reports in ${dir}`);

const cell = (text) => String(text).replace(/\|/g, '\\|');
const verdictCell = (r) => (r.verdict === 'pass' ? 'pass' : r.verdict === 'information' ? `information (${r.did})` : `**${r.verdict}** (${r.did})`);

const lines = [];
lines.push(`| probe | spec | vectors | the spec says | ${reports.map((p) => p.name).join(' | ')} |`);
lines.push(`| --- | --- | --- | --- | ${reports.map(() => '---').join(' | ')} |`);
for (const [i, probe] of reports[0].report.results.entries()) {
  lines.push(`| \`${probe.id}\` | ${cell(probe.spec)} | ${probe.vectors.join(', ')} | ${cell(probe.says)} | ${reports.map((p) => verdictCell(p.report.results[i])).join(' | ')} |`);
}
lines.push('', `Run times (each probe bounded by ${reports[0].report.timeout} ms): ${reports.map((p) => `${p.name} ${(p.report.ms / 1000).toFixed(1)} s`).join(', ')}.`);

// peers that did the same thing share a line
lines.push('', 'Where a peer departs from the spec, what it did and what that means for a client:', '');
for (const [i, probe] of reports[0].report.results.entries()) {
  const groups = new Map();
  for (const p of reports) {
    const r = p.report.results[i];
    if (r.verdict === 'pass') continue;
    const key = `${r.verdict}: ${cell(r.detail)}. *Client:* ${cell(r.meaning)}.`;
    groups.set(key, [...(groups.get(key) ?? []), p.name]);
  }
  if (groups.size === 0) continue;
  lines.push(`- \`${probe.id}\`, which sends ${probe.sends}:`);
  for (const [key, names] of groups) lines.push(`  - ${names.join(', ')}, ${key}`);
}

const nginxFile = join(dir, 'nginx.json');
if (existsSync(nginxFile)) {
  const nginx = version('nginx', ['-v'], /nginx\/(\S+)/);
  lines.push('', `What nginx ${nginx} sends, as \`fcgi conform --listen\` saw it behind nginx in the tests (a plain GET, a 130-byte \`fastcgi_param\` name, a 100000-byte POST and a GET on a \`fastcgi_keep_conn\` upstream, the two unsolicited management records, a browser that gave up):`, '');
  lines.push('```', summaryText('127.0.0.1:PORT', JSON.parse(readFileSync(nginxFile, 'utf8'))), '```');
}

const BEGIN = '<!-- conform tables: scripts/conform-readme.sh writes from here -->';
const END = '<!-- conform tables end -->';
const text = readFileSync(readme, 'utf8');
const from = text.indexOf(BEGIN);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`${readme} has no ${BEGIN} ... ${END} section`);
writeFileSync(readme, `${text.slice(0, from + BEGIN.length)}\n${lines.join('\n')}\n${text.slice(to)}`);
console.log(`${readme}: conformance tables for ${reports.map((p) => p.name).join(', ')}`);
