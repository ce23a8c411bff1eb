// aws4 guesses the service from the first host label, which is wrong for Bedrock
// ("bedrock-runtime"): its signing name is "bedrock".
const BEDROCK_HOST =
  /^bedrock(?:-agent)?-runtime(?:-fips)?\.([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com(?:\.cn)?$/;
const AWS_HOST = /^([a-z0-9-]+?)(?:-fips)?\.([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** The signing region and service an AWS host implies, when it implies them. */
export function awsHostScope(hostname: string): { region?: string; service?: string } {
  const bedrock = BEDROCK_HOST.exec(hostname);
  if (bedrock !== null) return { region: bedrock[1], service: 'bedrock' };
  const aws = AWS_HOST.exec(hostname);
  return aws === null ? {} : { region: aws[2], service: aws[1] };
}
