// PromQL checked with the Prometheus project's own grammar (@prometheus-io/lezer-promql, the
// parser of Prometheus' web UI): syntax errors, and the metric names an expression selects.
import { parser } from '@prometheus-io/lezer-promql';

interface ParsedPromQL {
  /** Syntax errors, with the text around them. */
  errors: string[];
  /** Metric names of every vector selector. */
  metrics: string[];
}

export function parsePromQL(expr: string): ParsedPromQL {
  const errors: string[] = [];
  const metrics: string[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) errors.push(`syntax error at ${ref.from}: …${expr.slice(Math.max(0, ref.from - 20), ref.from + 20)}…`);
      if (ref.name === 'VectorSelector') {
        const name = ref.node.getChild('Identifier');
        // A selector by {__name__=…} alone would escape the metric check: we write none.
        if (!name) errors.push(`a selector without a metric name at ${ref.from}`);
        else metrics.push(expr.slice(name.from, name.to));
      }
    },
  });
  return { errors, metrics };
}
