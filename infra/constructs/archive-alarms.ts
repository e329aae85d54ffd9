import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AlarmsConfig, MailboxConfig } from '../config/load-config.js';

/**
 * The puller's custom metrics, as functions/puller/handler.ts publishes them with Powertools (EMF):
 * namespace "Popvault", dimensions service=puller (Powertools' default) and mailbox=<id>. The deploy
 * rehearsal checks these against what the bundled puller actually prints.
 */
export const METRIC_NAMESPACE = 'Popvault';
export const METRIC_SERVICE = 'puller';

export interface ArchiveAlarmsProps {
  config: AlarmsConfig;
  mailboxes: readonly MailboxConfig[];
  /** Each mailbox's own puller function, by mailbox id. */
  pullers: ReadonlyMap<string, lambda.IFunction>;
  deadLetterQueue: sqs.IQueue;
}

/**
 * Alarms to one SNS topic (plus a per-mailbox topic for mailboxes with their own `alarmEmail`), and a
 * dashboard of runs, messages and bytes.
 *
 * Stack-wide: anything in the dead-letter queue.
 * Per mailbox: any error of its puller function in 5 minutes (a failed run, or a refused event);
 * no successful run for `alarms.missedRunPeriods` scheduled runs (missing data counts
 * as missed, so a puller that never runs alarms too); a credential failure; a run whose received
 * sizes disagreed with LIST for many messages (RunSession.sizesSuspect); for policy "delete",
 * mail left on the server growing over `missedRunPeriods` runs in a row; the search flush failing
 * in three runs within an hour.
 */
export class ArchiveAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ArchiveAlarmsProps) {
    super(scope, id);
    const { config, mailboxes, pullers } = props;

    this.topic = this.newTopic('Topic', 'popvault alarms', config.email);
    const stackWide = new actions.SnsAction(this.topic);

    const dlq = new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription:
        'popvault: an invocation ended in the dead-letter queue (failed, expired while throttled, or undeliverable). Read the message for the event and error.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    dlq.addAlarmAction(stackWide);
    this.alarms.push(dlq);

    for (const mailbox of mailboxes) {
      const targets = [stackWide];
      if (mailbox.alarmEmail !== null) {
        const own = this.newTopic(
          `Topic-${mailbox.id}`,
          `popvault alarms: ${mailbox.id}`,
          mailbox.alarmEmail,
        );
        targets.push(new actions.SnsAction(own));
      }
      const puller = pullers.get(mailbox.id);
      if (!puller) throw new Error(`mailbox ${mailbox.id} has no puller function`);
      for (const alarm of [
        ...this.mailboxAlarms(mailbox, config, puller),
        this.searchFlushAlarm(mailbox),
      ]) {
        for (const target of targets) alarm.addAlarmAction(target);
        this.alarms.push(alarm);
      }
    }

    this.dashboard = this.newDashboard(mailboxes, pullers, props.deadLetterQueue);
  }

  private newTopic(id: string, displayName: string, email: string | null): sns.Topic {
    const topic = new sns.Topic(this, id, { displayName, enforceSSL: true });
    if (email !== null) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }

  /**
   * One failed flush only delays search (the next run retries it, nothing is lost), so this waits
   * for three failures within an hour: with the default 15-minute schedule, three runs of four.
   */
  private searchFlushAlarm(mailbox: MailboxConfig): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, `SearchFlushFailing-${mailbox.id}`, {
      alarmDescription: `popvault: the search index of mailbox ${mailbox.id} failed to flush (or to read back mail archived before search) in 3 runs within an hour. Archiving goes on and no mail is lost, but new mail is not searchable until a flush succeeds. Read the puller log ("search flush failed", errorCode).`,
      metric: mailboxMetric(mailbox.id, 'SearchFlushFailures', 'Sum', 60),
      threshold: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private mailboxAlarms(
    mailbox: MailboxConfig,
    config: AlarmsConfig,
    puller: lambda.IFunction,
  ): cloudwatch.Alarm[] {
    const window = missedRunWindow(mailbox, config.missedRunPeriods);
    const alarms: cloudwatch.Alarm[] = [];
    alarms.push(
      new cloudwatch.Alarm(this, `PullerErrors-${mailbox.id}`, {
        alarmDescription: `popvault: the puller of mailbox ${mailbox.id} failed (credentials, permanent server or storage error, or a refused event: see RejectedEvents). See its log and the dead-letter queue.`,
        metric: puller.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    alarms.push(
      new cloudwatch.Alarm(this, `MissedRuns-${mailbox.id}`, {
        alarmDescription: `popvault: no successful pull of mailbox ${mailbox.id} for ${config.missedRunPeriods} scheduled runs (about ${Math.round(window.spanMinutes / 6) / 10} hours). Check credentials (put-secret-value), the server, and the run records.`,
        metric: mailboxMetric(mailbox.id, 'SuccessfulRuns', 'Sum', window.periodMinutes),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: window.periods,
        datapointsToAlarm: window.periods,
        // No data means no run reported success: exactly what this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    alarms.push(
      new cloudwatch.Alarm(this, `CredentialFailures-${mailbox.id}`, {
        alarmDescription: `popvault: mailbox ${mailbox.id} refused its credentials (or its OAuth2 token request). Update them with the put-secret-value command from the stack outputs.`,
        metric: mailboxMetric(mailbox.id, 'CredentialFailures', 'Sum', 5),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    alarms.push(
      new cloudwatch.Alarm(this, `SizesSuspect-${mailbox.id}`, {
        alarmDescription: `popvault: a run of mailbox ${mailbox.id} received messages whose sizes disagree with the server's LIST for many of them: the server may be serving something other than the stored mail (a substitute, a rewrite). Read the run record (session.sizeMismatches) and the puller log.`,
        metric: mailboxMetric(mailbox.id, 'SizesSuspectRuns', 'Sum', 60),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    // "keep" leaves everything by design and "delete-after-days" grows until its first deletions.
    if (mailbox.policy === 'delete') {
      const periods = config.missedRunPeriods;
      alarms.push(
        new cloudwatch.Alarm(this, `RemainingGrowing-${mailbox.id}`, {
          alarmDescription: `popvault: messages left on the server of mailbox ${mailbox.id} grew in ${periods} runs in a row: mail arrives faster than it is archived (size limits, per-run caps, failures).`,
          metric: new cloudwatch.MathExpression({
            expression: 'DIFF(remaining)',
            usingMetrics: {
              remaining: mailboxMetric(
                mailbox.id,
                'RemainingOnServer',
                'Maximum',
                window.periodMinutes,
              ),
            },
            period: Duration.minutes(window.periodMinutes),
            label: 'change in messages left on the server',
          }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: periods,
          datapointsToAlarm: periods,
          treatMissingData: cloudwatch.TreatMissingData.MISSING,
        }),
      );
    }
    return alarms;
  }

  private newDashboard(
    mailboxes: readonly MailboxConfig[],
    pullers: ReadonlyMap<string, lambda.IFunction>,
    deadLetterQueue: sqs.IQueue,
  ): cloudwatch.Dashboard {
    const perMailbox = (name: string, statistic: string) =>
      mailboxes.map((m) => mailboxMetric(m.id, name, statistic, 60).with({ label: m.id }));
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-archive`,
      defaultInterval: Duration.days(7),
    });
    dashboard.addWidgets(
      graph('Successful runs', perMailbox('SuccessfulRuns', 'Sum')),
      graph('Runs told to retry later', perMailbox('RunsRetryLater', 'Sum')),
      graph(
        'Puller errors and throttles',
        [...pullers].flatMap(([mailboxId, puller]) => [
          puller.metricErrors({ period: Duration.hours(1), label: `${mailboxId} errors` }),
          puller.metricThrottles({ period: Duration.hours(1), label: `${mailboxId} throttles` }),
        ]),
        [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.hours(1) })],
      ),
    );
    dashboard.addWidgets(
      graph('Messages archived', perMailbox('MessagesStored', 'Sum')),
      graph('Messages deleted from the server', perMailbox('MessagesDeleted', 'Sum')),
      graph(
        'Messages left on the server',
        perMailbox('RemainingOnServer', 'Maximum'),
        perMailbox('MessageFailures', 'Sum'),
      ),
    );
    dashboard.addWidgets(
      graph('Bytes retrieved', perMailbox('BytesRetrieved', 'Sum')),
      graph('Run duration (ms, max)', perMailbox('RunDuration', 'Maximum')),
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: this.alarms,
        width: 8,
        height: 6,
      }),
    );
    return dashboard;
  }
}

function mailboxMetric(
  mailboxId: string,
  metricName: string,
  statistic: string,
  periodMinutes: number,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { service: METRIC_SERVICE, mailbox: mailboxId },
    statistic,
    period: Duration.minutes(periodMinutes),
  });
}

export interface MissedRunWindow {
  /** Longest stretch `missedRunPeriods` scheduled runs can span. */
  spanMinutes: number;
  periodMinutes: number;
  periods: number;
}

/**
 * The missed-run alarm as M periods of P minutes, every one without a success, with M x P covering
 * the longest stretch in which `missedRunPeriods` runs are scheduled, plus one period. P is the schedule's shortest
 * gap (at most a day) where possible; CloudWatch allows at most 1 day of evaluation for periods under
 * an hour and 7 days otherwise (the config loader has already refused schedules that cannot fit).
 */
export function missedRunWindow(mailbox: MailboxConfig, missedRunPeriods: number): MissedRunWindow {
  const span = mailbox.schedule.spanMinutes(missedRunPeriods);
  let period = Math.max(1, Math.min(mailbox.schedule.minGapMinutes, span, 1440));
  // One period more than the span needs: CloudWatch periods are aligned to the clock, not to the
  // schedule, and the newest one is still filling, so a run that ends late must not look missed.
  let periods = Math.ceil(span / period) + 1;
  const limit = period < 60 ? 1440 : 7 * 1440;
  if (period * periods > limit) {
    // Hourly periods fit any span the loader accepts (up to 7 days less an hour).
    period = 60;
    periods = Math.ceil(span / period) + 1;
  }
  return { spanMinutes: span, periodMinutes: period, periods };
}
