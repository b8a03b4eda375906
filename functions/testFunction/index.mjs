// The seed document's testFunction: `aws lambda invoke --function-name testFunction ...`.
export const handler = async (event, context) => {
  console.log('testFunction received', JSON.stringify(event));
  return { ok: true, input: event, requestId: context.awsRequestId };
};
