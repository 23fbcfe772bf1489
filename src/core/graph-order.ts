/**
 * Post-order of a graph from its outputs: every node after all the nodes it reads (depth first, iterative, each node
 * once). The graph converters walk their source graphs with it; a cycle or a missing node is the caller's error.
 */
export function postOrder<K>(roots: K[], inputsOf: (node: K) => K[], errors: { missing?: (node: K) => Error; cycle: (node: K) => Error }, exists?: (node: K) => boolean): K[] {
  const order: K[] = [];
  const state = new Map<K, 'open' | 'done'>();
  for (const root of roots) {
    if (state.get(root) === 'done') continue;
    const stack: Array<{ node: K; inputs: K[] | null; next: number }> = [{ node: root, inputs: null, next: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (!top.inputs) {
        if (exists && !exists(top.node)) throw errors.missing ? errors.missing(top.node) : errors.cycle(top.node);
        state.set(top.node, 'open');
        top.inputs = inputsOf(top.node);
      }
      if (top.next < top.inputs.length) {
        const input = top.inputs[top.next++]!;
        const s = state.get(input);
        if (s === 'open') throw errors.cycle(input);
        if (!s) stack.push({ node: input, inputs: null, next: 0 });
      } else {
        state.set(top.node, 'done');
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return order;
}
