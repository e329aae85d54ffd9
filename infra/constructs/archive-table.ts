import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { createTableInput, TTL_ATTRIBUTE } from '../../functions/adapters/aws/dynamodb-table.js';

/**
 * The archive index: one DynamoDB table laid out by `createTableInput()`, the same function the tests
 * create their tables with, so the deployed keys and indexes cannot drift from what the code queries.
 *
 * Defaults: on-demand billing, point-in-time recovery (35 days), deletion protection, TTL on the
 * lease attribute, AWS-owned encryption, RETAINed when the stack is deleted.
 */
export class ArchiveTable extends Construct {
  readonly table: dynamodb.TableV2;
  /** Index names, in the order createTableInput declares them. */
  readonly indexNames: readonly string[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const layout = createTableInput('layout');
    const typeOf = (name: string): dynamodb.AttributeType => {
      const type = layout.AttributeDefinitions?.find(
        (a) => a.AttributeName === name,
      )?.AttributeType;
      if (type === 'S') return dynamodb.AttributeType.STRING;
      if (type === 'N') return dynamodb.AttributeType.NUMBER;
      if (type === 'B') return dynamodb.AttributeType.BINARY;
      throw new Error(`createTableInput() declares no type for key attribute ${name}`);
    };
    const keyOf = (
      schema: { AttributeName?: string; KeyType?: string }[] | undefined,
      type: string,
    ) => {
      const name = schema?.find((k) => k.KeyType === type)?.AttributeName;
      return name === undefined ? undefined : { name, type: typeOf(name) };
    };
    const partitionKey = keyOf(layout.KeySchema, 'HASH');
    if (!partitionKey) throw new Error('createTableInput() declares no partition key');
    const sortKey = keyOf(layout.KeySchema, 'RANGE');

    const indexes: dynamodb.GlobalSecondaryIndexPropsV2[] = (
      layout.GlobalSecondaryIndexes ?? []
    ).map((index) => {
      const pk = keyOf(index.KeySchema, 'HASH');
      const sk = keyOf(index.KeySchema, 'RANGE');
      if (!index.IndexName || !pk)
        throw new Error('createTableInput() declares an incomplete index');
      if (index.Projection?.ProjectionType !== 'ALL') {
        throw new Error(`index ${index.IndexName}: only projection ALL is mirrored here`);
      }
      return {
        indexName: index.IndexName,
        partitionKey: pk,
        ...(sk ? { sortKey: sk } : {}),
        projectionType: dynamodb.ProjectionType.ALL,
      };
    });
    this.indexNames = indexes.map((i) => i.indexName);

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey,
      ...(sortKey ? { sortKey } : {}),
      globalSecondaryIndexes: indexes,
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: 35,
      },
      deletionProtection: true,
      // Leases carry an epoch-seconds `ttl`, so a crashed run's lease is eventually cleaned up.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** The table and each index by name: no `index/*` wildcard. */
  private resources(): string[] {
    return [
      this.table.tableArn,
      ...this.indexNames.map((name) => `${this.table.tableArn}/index/${name}`),
    ];
  }

  /**
   * What the pull run needs: lease acquire/release (PutItem, DeleteItem), records and runs (PutItem,
   * UpdateItem, GetItem, BatchGetItem, Query), and the condition checks inside its transactions
   * (TransactWriteItems is authorised per item, as ConditionCheckItem, PutItem, UpdateItem, DeleteItem).
   */
  grantPullerWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IndexWrite',
        actions: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: this.resources(),
      }),
    );
  }

  /** What the query API needs: reads only. */
  grantApiRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IndexRead',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
        resources: this.resources(),
      }),
    );
  }
}
