// The platform's alerts as one Prometheus Operator `PrometheusRule`. Each alert has a severity,
// a summary and description, and a runbook in docs/operations.md (its anchor is the alert name).
// @see https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PrometheusRule
import { platformLabels } from '../names.js';

/** Where the runbooks are; an overlay that publishes the docs elsewhere patches the annotations. */
const RUNBOOKS = 'docs/operations.md';

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: 'critical' | 'warning';
  summary: string;
  description: string;
}

const rule = (r: AlertRule) => ({
  alert: r.alert,
  expr: r.expr,
  for: r.for,
  labels: { severity: r.severity },
  annotations: { summary: r.summary, description: r.description, runbook_url: `${RUNBOOKS}#${r.alert.toLowerCase()}` },
});

/** Thresholds the runbooks quote; change them here and there together. */
const THRESHOLDS = {
  outboxLagSeconds: 300,
  outboxLagCriticalSeconds: 1800,
  loginFailuresPerSecond: 0.5,
  loginFailureShare: 0.5,
  certificateWarningDays: 14,
  certificateCriticalDays: 3,
} as const;

const failures = 'sum by (namespace) (rate(zeno_auth_login_failures_total[5m]))';
const passed = 'sum by (namespace) (rate(zeno_auth_logins_total[5m]))';
const certDays = '(min by (namespace, gateway, port, hostname) (zeno_ingress_certificate_expiry_timestamp_seconds) - time()) / 86400';

const GROUPS: { name: string; rules: AlertRule[] }[] = [
  {
    name: 'zenokube.vault',
    rules: [
      {
        alert: 'ZenoVaultSealed',
        expr: 'min by (namespace) (zeno_vault_sealed) == 1',
        for: '2m',
        severity: 'critical',
        summary: 'Every vault unsealer is sealed',
        description: 'No unsealer in {{ $labels.namespace }} holds the root key: vault-api cannot read or write secrets until one is unsealed.',
      },
      {
        alert: 'ZenoVaultReplicaSealed',
        expr: 'max by (namespace, pod) (zeno_vault_sealed) == 1',
        for: '15m',
        severity: 'warning',
        summary: 'A vault unsealer replica stays sealed',
        description: 'Unsealer {{ $labels.pod }} in {{ $labels.namespace }} has been sealed for 15 minutes while others may serve: one more restart can take the vault down.',
      },
    ],
  },
  {
    name: 'zenokube.events',
    rules: [
      {
        alert: 'ZenoDeadLettersGrowing',
        expr: 'sum by (namespace, type, subscriber) (increase(zeno_dead_letters_total[15m])) > 0',
        for: '5m',
        severity: 'warning',
        summary: 'Events are being dead-lettered',
        description: '{{ $value | humanize }} events of type {{ $labels.type }} for {{ $labels.subscriber }} exhausted their retries in the last 15 minutes ({{ $labels.namespace }}).',
      },
      {
        alert: 'ZenoOutboxLag',
        expr: `max by (namespace, product) (zeno_outbox_oldest_pending_seconds) > ${THRESHOLDS.outboxLagSeconds}`,
        for: '5m',
        severity: 'warning',
        summary: 'Events wait in an outbox',
        description: 'The oldest event in the {{ $labels.product }} outbox ({{ $labels.namespace }}) has waited {{ $value | humanizeDuration }}: the relay is not delivering.',
      },
      {
        alert: 'ZenoOutboxStalled',
        expr: `max by (namespace, product) (zeno_outbox_oldest_pending_seconds) > ${THRESHOLDS.outboxLagCriticalSeconds}`,
        for: '5m',
        severity: 'critical',
        summary: 'An outbox has not delivered for 30 minutes',
        description: 'The oldest event in the {{ $labels.product }} outbox ({{ $labels.namespace }}) has waited {{ $value | humanizeDuration }}.',
      },
    ],
  },
  {
    name: 'zenokube.auth',
    rules: [
      {
        alert: 'ZenoLoginFailureSpike',
        expr: `${failures} > ${THRESHOLDS.loginFailuresPerSecond} and ${failures} / (${failures} + ${passed}) > ${THRESHOLDS.loginFailureShare}`,
        for: '10m',
        severity: 'warning',
        summary: 'Most sign-ins fail',
        description: '{{ $value | humanize }} failed sign-ins per second in {{ $labels.namespace }}, more than half of all password checks: credential stuffing or a broken client.',
      },
    ],
  },
  {
    name: 'zenokube.ingress',
    rules: [
      {
        alert: 'ZenoIngressCircuitOpen',
        expr: 'max by (namespace, pod, endpoint) (zeno_ingress_circuit_state) == 2',
        for: '2m',
        severity: 'warning',
        summary: 'The ingress stopped sending to an upstream endpoint',
        description: 'Ingress {{ $labels.pod }} has held the circuit to {{ $labels.endpoint }} open for 2 minutes: that endpoint keeps failing.',
      },
      {
        alert: 'ZenoCertificateExpiringSoon',
        expr: `${certDays} < ${THRESHOLDS.certificateWarningDays}`,
        for: '1h',
        severity: 'warning',
        summary: 'A Gateway listener certificate expires within 14 days',
        description: 'The certificate of {{ $labels.gateway }} port {{ $labels.port }} ({{ $labels.hostname }}) expires in {{ $value | humanize }} days.',
      },
      {
        alert: 'ZenoCertificateExpiring',
        expr: `${certDays} < ${THRESHOLDS.certificateCriticalDays}`,
        for: '10m',
        severity: 'critical',
        summary: 'A Gateway listener certificate expires within 3 days, or has expired',
        description: 'The certificate of {{ $labels.gateway }} port {{ $labels.port }} ({{ $labels.hostname }}) expires in {{ $value | humanize }} days.',
      },
    ],
  },
];

/** The PrometheusRule holding every alert. */
export function prometheusRule(version: string): Record<string, unknown> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'zenokube-alerts', labels: platformLabels('observability', version) },
    spec: { groups: GROUPS.map((g) => ({ name: g.name, rules: g.rules.map(rule) })) },
  };
}
