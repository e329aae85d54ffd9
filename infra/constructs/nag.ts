import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * How cdk-nag spells an ARN attribute of `resource` in a granular finding ("<LogicalId.Arn>"), so
 * an acknowledgement names the one wildcard it accepts rather than every wildcard on the role.
 */
export function nagArnOf(resource: IConstruct): string {
  const stack = Stack.of(resource);
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${stack.resolve(stack.getLogicalId(element))}.Arn>`;
}

/** Acknowledges one AwsSolutions-IAM5 resource wildcard on `scope` (and what it contains). */
export function acknowledgeWildcardResource(
  scope: IConstruct,
  resource: string,
  reason: string,
): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}
