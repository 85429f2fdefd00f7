"""Creates, on a moto server, the infrastructure Kiln's AWS runners expect to exist (what the
SAM template declares on AWS), and prints its identifiers as JSON.

Usage: aws_fixture.py ENDPOINT_URL
"""

import json
import sys

import boto3


def main() -> None:
    kw = {
        "endpoint_url": sys.argv[1],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    ec2, elb = boto3.client("ec2", **kw), boto3.client("elbv2", **kw)
    ecs, codebuild = boto3.client("ecs", **kw), boto3.client("codebuild", **kw)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    group = ec2.create_security_group(GroupName="kiln-apps", Description="Kiln apps", VpcId=vpc)["GroupId"]
    alb = elb.create_load_balancer(Name="kiln-apps", Subnets=subnets, SecurityGroups=[group], Type="application")
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no app here"}}],
    )["Listeners"][0]["ListenerArn"]
    ecs.create_cluster(clusterName="kiln-apps")
    role = "arn:aws:iam::123456789012:role/kiln-codebuild"
    for name in ("kiln-tests", "kiln-images"):
        codebuild.create_project(
            name=name,
            source={"type": "S3", "location": "kiln-artifacts/sources/placeholder.zip"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole=role,
        )
    print(json.dumps({"vpc_id": vpc, "subnets": subnets, "security_group": group, "listener_arn": listener, "cluster": "kiln-apps"}))


if __name__ == "__main__":
    main()
