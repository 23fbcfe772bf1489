/**
 * Renders Home Assistant value templates the way its MQTT integration does (`value` = the payload text, `value_json`
 * = the payload parsed as JSON), with real Jinja2 in a sandbox, as Home Assistant uses it. Needs python3 with jinja2.
 */
import { spawnSync } from 'node:child_process';

const SCRIPT = `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment()
out = []
for job in json.load(sys.stdin):
    try:
        value_json = json.loads(job["payload"])
    except ValueError:
        value_json = None
    out.append(env.from_string(job["template"]).render(value=job["payload"], value_json=value_json).strip())
print(json.dumps(out))
`;

export interface TemplateJob {
  template: string;
  payload: string;
}

/** The first python3 that has jinja2: the one on PATH, else Debian's (where .ci/run installs python3-jinja2). */
const PYTHONS = ['python3', '/usr/bin/python3'];

export function renderTemplates(jobs: TemplateJob[]): string[] {
  let last = '';
  for (const python of PYTHONS) {
    const r = spawnSync(python, ['-c', SCRIPT], { input: JSON.stringify(jobs), encoding: 'utf8' });
    if (!r.error && r.status === 0) return JSON.parse(r.stdout) as string[];
    last = r.error?.message ?? r.stderr;
  }
  throw new Error(`rendering Home Assistant templates needs python3 with jinja2: ${last}`);
}
