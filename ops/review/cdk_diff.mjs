// CDK's own template diff engine, as data: ops/review/cdk_diff.py runs this once per diff.
//
// stdin:  {"<stack>": {"old": template, "new": template, "environment": "staging"}, ...}
// stdout: {"<stack>": {"resources": {...}, "iam": {...}, "securityGroups": {...}, "outputs": {...}}}
//
// @aws-cdk/cloudformation-diff is pinned to 2.187.5: the CLI we pin (aws-cdk 2.1148.1) bundles
// 2.187.7, which the registry does not serve; 2.187.5 is the newest published release of that
// line, so `cdk diff` and this review judge replacements by the same rules.
//
// Beyond `cdk diff`, a replacement is followed across the stacks of one environment: a stack that
// reads a replaced resource through Fn::GetStackOutput or Fn::ImportValue sees a new value there,
// so its create-only properties that read it force a replacement too, and the others an update.
// Within a stack, the updates in place a replacement forces are listed as well.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const MISSING = 2; // config/exit_codes.py BAD_INPUT: the toolchain is not installed

let fullDiff;
try {
  ({ fullDiff } = require('@aws-cdk/cloudformation-diff'));
} catch (error) {
  // Only a missing package is the toolchain's fault; anything else (a Node too old for its
  // syntax, a broken install) is said as it is.
  const missing = error?.code === 'MODULE_NOT_FOUND';
  process.stderr.write(
    missing
      ? '@aws-cdk/cloudformation-diff is not installed: run npm ci\n'
      : `@aws-cdk/cloudformation-diff does not load: ${oneLine(error)}\n`,
  );
  process.exit(MISSING);
}

function oneLine(error) {
  return String(error?.message ?? error).split('\n')[0];
}

const REPLACING = new Set(['WILL_REPLACE', 'MAY_REPLACE']);
// The engine marks a reference to a replaced resource "<LogicalId> (replaced)" or
// "<LogicalId>(replaced)"; the cross-stack marks below read "<stack>/<LogicalId> (replaced)".
const MARK = /^(.+?) ?\(replaced\)$/;

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf-8')));
    process.stdin.on('error', reject);
  });
}

function walk(value, visit) {
  if (Array.isArray(value)) {
    value.forEach((item) => walk(item, visit));
  } else if (value !== null && typeof value === 'object') {
    visit(value);
    Object.values(value).forEach((item) => walk(item, visit));
  }
}

function referencedLogicalIds(value) {
  const ids = new Set();
  walk(value, (node) => {
    if (typeof node.Ref === 'string') ids.add(node.Ref);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt)) ids.add(getAtt[0]);
    if (typeof getAtt === 'string') ids.add(getAtt.split('.')[0]);
  });
  return ids;
}

function marks(value) {
  const found = new Set();
  const visit = (item) => {
    if (typeof item === 'string') {
      const match = MARK.exec(item);
      if (match) found.add(match[1]);
    } else if (Array.isArray(item)) {
      item.forEach(visit);
    } else if (item !== null && typeof item === 'object') {
      Object.values(item).forEach(visit);
    }
  };
  visit(value);
  return [...found].sort();
}

function replacedIds(diff) {
  const ids = new Set();
  diff.resources.forEachDifference((logicalId, change) => {
    if (REPLACING.has(change.changeImpact)) ids.add(logicalId);
  });
  return ids;
}

// {stack: {outputName: cause}} and {exportName: cause} of outputs that will carry a new value.
function changedOutputs(stacks, diffs) {
  const outputs = {};
  const exports = {};
  for (const [stack, { old: before, new: after }] of Object.entries(stacks)) {
    const replaced = replacedIds(diffs[stack]);
    for (const [name, output] of Object.entries(after?.Outputs ?? {})) {
      const cause = [...referencedLogicalIds(output.Value)].find((id) => replaced.has(id));
      if (cause === undefined || before?.Outputs?.[name] === undefined) continue;
      outputs[stack] = { ...outputs[stack], [name]: `${stack}/${cause}` };
      const exportName = output.Export?.Name;
      if (typeof exportName === 'string') exports[exportName] = `${stack}/${cause}`;
    }
  }
  return { outputs, exports };
}

// ``value`` with every object ``replace`` returns a value for swapped for it, at any depth: in
// lists too (SubnetIds, Fn::Join and Fn::Select arguments), where most cross-stack reads sit.
function rewrite(value, replace) {
  if (Array.isArray(value)) return value.map((item) => rewrite(item, replace));
  if (value === null || typeof value !== 'object') return value;
  const replaced = replace(value);
  if (replaced !== undefined) return replaced;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rewrite(item, replace)]));
}

// The logical id a Ref or Fn::GetAtt node reads, or undefined.
function readId(node) {
  if (typeof node.Ref === 'string') return node.Ref;
  const getAtt = node['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

// A copy of ``template`` whose reads of a replaced resource hold "<id> (replaced)" and whose
// reads of a changed output hold "<stack>/<id> (replaced)", or undefined when it reads neither.
// CDK's engine follows a replacement into the create-only properties that read it; the updates
// in place it forces (a DB subnet group's SubnetIds, a function's VPC config) it leaves out, and
// those are what a reviewer must see too.
function withMarkedReads(template, environment, env, changed, replacedHere) {
  let marked = false;
  const mark = (node) => {
    const id = readId(node);
    const output = node['Fn::GetStackOutput'];
    const imported = node['Fn::ImportValue'];
    let cause;
    if (id !== undefined && replacedHere.has(id)) {
      cause = id;
    } else if (output && env[output.StackName] === environment) {
      cause = changed.outputs[output.StackName]?.[output.OutputName];
    } else if (typeof imported === 'string') {
      cause = changed.exports[`${environment}\u0000${imported}`];
    }
    if (cause === undefined) return undefined;
    marked = true;
    return `${cause} (replaced)`;
  };
  const resources = rewrite(template.Resources ?? {}, mark);
  return marked ? { ...template, Resources: resources } : undefined;
}

function diffAll(stacks) {
  const env = Object.fromEntries(
    Object.entries(stacks).map(([stack, pair]) => [stack, pair.environment ?? '']),
  );
  const base = Object.fromEntries(
    Object.entries(stacks).map(([stack, pair]) => [stack, fullDiff(pair.old ?? {}, pair.new ?? {})]),
  );
  const diffs = { ...base };
  // Each round lets a replacement reach one more stack; a stack graph has no cycles. The first
  // round also marks each stack's reads of its own replaced resources.
  for (let round = 0; round <= Object.keys(stacks).length; round += 1) {
    const { outputs, exports } = changedOutputs(stacks, diffs);
    const scoped = { outputs, exports: {} };
    for (const [name, cause] of Object.entries(exports)) {
      scoped.exports[`${env[cause.split('/')[0]]}\u0000${name}`] = cause;
    }
    let spread = false;
    for (const [stack, pair] of Object.entries(stacks)) {
      if (!pair.old || !pair.new) continue;
      const replaced = replacedIds(diffs[stack]);
      const marked = withMarkedReads(pair.new, env[stack], env, scoped, replaced);
      if (marked === undefined) continue;
      const next = fullDiff(pair.old, marked);
      spread ||= round === 0 || replacedIds(next).size > replaced.size;
      diffs[stack] = next;
    }
    if (!spread) break;
  }
  return { base, diffs };
}

function resourceJson(change) {
  const replacing = Object.entries(change.propertyUpdates)
    .filter(([, property]) => REPLACING.has(property.changeImpact))
    .map(([name]) => name)
    .sort();
  // What forced it: the replaced resources its replacing properties read, or, for an update in
  // place, those any updated property reads.
  const causes = new Set();
  const forcing = replacing.length > 0 ? replacing : Object.keys(change.propertyUpdates);
  for (const name of forcing) marks(change.propertyUpdates[name].newValue).forEach((m) => causes.add(m));
  return {
    type: change.newResourceType ?? change.oldResourceType,
    oldType: change.oldResourceType ?? null,
    impact: change.changeImpact,
    properties: Object.keys(change.propertyUpdates).sort(),
    other: Object.keys(change.otherChanges).filter((key) => key !== 'Metadata').sort(),
    replacingProperties: replacing,
    causes: [...causes].sort(),
  };
}

const targets = (t) => ({ not: t.not, values: [...t.values].sort() });

function statementJson(statement) {
  return {
    effect: statement.effect,
    actions: targets(statement.actions),
    resources: targets(statement.resources),
    principals: targets(statement.principals),
    condition: statement.condition ?? null,
  };
}

function ruleJson(rule) {
  return {
    group: rule.groupId,
    peer: rule.describePeer(),
    ports: rule.describeProtocol(),
  };
}

// Resources from ``diff``, and from ``marked`` (reads of replaced resources marked) those that
// it replaces or, left alone by ``diff``, updates in place because they read a replaced resource
// (a service's subnets, a function's VPC config: they redeploy). IAM, security groups and
// outputs are what the templates say, unmarked.
function stackJson(diff, marked) {
  const resources = {};
  const add = (logicalId, change) => {
    const json = resourceJson(change);
    if (json.type === 'AWS::CDK::Metadata') return;
    // A change of Metadata alone (the construct path) changes nothing CloudFormation deploys.
    const updated = json.impact === 'NO_CHANGE' || json.impact === 'WILL_UPDATE';
    if (updated && json.properties.length + json.other.length === 0) return;
    resources[logicalId] = json;
  };
  diff.resources.forEachDifference(add);
  marked.resources.forEachDifference((logicalId, change) => {
    const replacing = REPLACING.has(change.changeImpact);
    const forcedUpdate = change.changeImpact === 'WILL_UPDATE' && resources[logicalId] === undefined;
    if ((replacing && resources[logicalId]?.impact !== change.changeImpact) || forcedUpdate) {
      add(logicalId, change);
    }
  });
  const outputs = {};
  diff.outputs.forEachDifference((name, change) => {
    outputs[name] = change.isAddition ? 'added' : change.isRemoval ? 'removed' : 'changed';
  });
  const { iamChanges: iam, securityGroupChanges: sg } = diff;
  return {
    resources,
    iam: {
      added: iam.statements.additions.map(statementJson),
      removed: iam.statements.removals.map(statementJson),
      managedPoliciesAdded: iam.managedPolicies.additions.map((a) => ({ identity: a.identityArn, policy: a.managedPolicyArn })),
      managedPoliciesRemoved: iam.managedPolicies.removals.map((a) => ({ identity: a.identityArn, policy: a.managedPolicyArn })),
    },
    securityGroups: {
      added: [
        ...sg.ingress.additions.map((r) => ({ direction: 'ingress', ...ruleJson(r) })),
        ...sg.egress.additions.map((r) => ({ direction: 'egress', ...ruleJson(r) })),
      ],
      removed: [
        ...sg.ingress.removals.map((r) => ({ direction: 'ingress', ...ruleJson(r) })),
        ...sg.egress.removals.map((r) => ({ direction: 'egress', ...ruleJson(r) })),
      ],
    },
    outputs,
  };
}

try {
  const stacks = JSON.parse(await readStdin());
  const { base, diffs } = diffAll(stacks);
  const result = Object.fromEntries(
    Object.keys(stacks).map((stack) => [stack, stackJson(base[stack], diffs[stack])]),
  );
  process.stdout.write(JSON.stringify(result));
} catch (error) {
  // One line for the Python side to pass on, not Node's stack trace.
  process.stderr.write(`${oneLine(error)}\n`);
  process.exit(1);
}
