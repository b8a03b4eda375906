export const handler = async (event) => {
  const ms = Number(event?.ms ?? 5000);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { waitedMs: ms };
};
