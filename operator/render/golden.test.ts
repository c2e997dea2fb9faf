// Golden-file tests for translate + render: every test/golden/cases/<case>.yaml (Kubernetes
// objects) is translated and rendered for an external and a cluster-local fleet, and compared
// with <case>.golden.yaml. Regenerate with `npm run golden:update` (KGW_UPDATE_GOLDEN=1), which
// also removes golden files whose case is gone.
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { goldenCases, goldenDir as dir, loadCase, renderCase } from '../../test/support/golden-cases.ts';

const update = process.env.KGW_UPDATE_GOLDEN === '1';
const cases = goldenCases(readdirSync(dir));
describe('golden translate+render', () => {
  test('every case has a golden file and no golden file is stale', () => {
    const goldens = readdirSync(dir).filter((f) => f.endsWith('.golden.yaml'));
    const stale = goldens.filter((g) => !cases.includes(g.replace(/\.golden\.yaml$/, '')));
    if (update) for (const s of stale) unlinkSync(join(dir, s));
    else expect(stale).toEqual([]);
    expect(cases.length).toBeGreaterThan(0);
  });

  test.each(cases)('golden %s', (name) => {
    const actual = stringify(renderCase(loadCase(join(dir, `${name}.yaml`))), {
      lineWidth: 0,
      aliasDuplicateObjects: false,
    });
    const goldenFile = join(dir, `${name}.golden.yaml`);
    if (update) writeFileSync(goldenFile, actual);
    expect(existsSync(goldenFile)).toBe(true);
    expect(actual).toBe(readFileSync(goldenFile, 'utf8'));
  });
});
