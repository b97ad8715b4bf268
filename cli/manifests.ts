// `zenokube manifests`: writes knative/ from the function declarations.
export async function main(): Promise<number> {
  process.stderr.write('manifest generation is not built yet\n');
  return 1;
}
