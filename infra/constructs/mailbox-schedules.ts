import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../config/load-config.js';
import { acknowledgeWildcardResource, nagArnOf } from './nag.js';

export interface MailboxSchedulesProps {
  /** Each mailbox and its own puller function. */
  pullers: ReadonlyMap<string, { mailbox: MailboxConfig; fn: lambda.IFunction }>;
  deadLetterQueue: sqs.IQueue;
}

/**
 * One EventBridge Scheduler schedule per mailbox, in the mailbox's time zone, invoking that
 * mailbox's own puller function with `{"mailboxId": <id>}`: all the event may say
 * (parseScheduledEvent). The server, secret and limits are in the function, never in the schedule.
 *
 * Defaults: no flexible window (runs start on time, so a missed-run alarm can be exact), up to 3
 * delivery retries within one schedule period (only for failing to hand the event to Lambda: a run
 * that fails is not retried), undeliverable events to the puller's dead-letter queue, a mailbox with
 * `enabled: false` keeps its schedule but paused.
 */
export class MailboxSchedules extends Construct {
  readonly schedules: ReadonlyMap<string, scheduler.Schedule>;

  constructor(scope: Construct, id: string, props: MailboxSchedulesProps) {
    super(scope, id);
    const schedules = new Map<string, scheduler.Schedule>();
    // One role for all schedules, assumable only by Scheduler acting for this account.
    const role = new iam.Role(this, 'InvokeRole', {
      description: 'popvault: lets EventBridge Scheduler invoke the mailbox pullers',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });
    for (const { mailbox, fn } of props.pullers.values()) {
      acknowledgeWildcardResource(
        role,
        `${nagArnOf(fn)}:*`,
        "CDK's Scheduler Lambda target grants InvokeFunction on the function and its qualified versions (<arn>:*); the schedules invoke only the unqualified mailbox pullers, and no other function is reachable.",
      );
      const periodSeconds = mailbox.schedule.minGapMinutes * 60;
      const schedule = new scheduler.Schedule(this, `Pull-${mailbox.id}`, {
        description: `popvault: pull mailbox ${mailbox.id}`,
        schedule: scheduler.ScheduleExpression.expression(
          mailbox.schedule.expression,
          TimeZone.of(mailbox.timeZone),
        ),
        timeWindow: scheduler.TimeWindow.off(),
        enabled: mailbox.enabled,
        target: new targets.LambdaInvoke(fn, {
          role,
          input: scheduler.ScheduleTargetInput.fromObject({ mailboxId: mailbox.id }),
          retryAttempts: 3,
          // Scheduler's own bounds are 60 s to 24 h.
          maxEventAge: Duration.seconds(Math.min(86400, Math.max(60, periodSeconds))),
          deadLetterQueue: props.deadLetterQueue,
        }),
      });
      schedules.set(mailbox.id, schedule);
    }
    this.schedules = schedules;
  }
}
