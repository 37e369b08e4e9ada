"""Offline helpers for the template and Terraform tests (tests/tests/).

    python template_tool.py decode TEMPLATE
        The template as JSON, intrinsic functions in their long form
        ({"Ref": ...}, {"Fn::Sub": ...}), as cfn-lint reads it.

    python template_tool.py translate TEMPLATE [PARAMETERS_JSON]
        The CloudFormation template the SAM transform produces, as JSON.
        Local CodeUri paths are replaced by S3 locations (what `sam package`
        does) and a local DefinitionUri is inlined as Definition, so the
        translation runs with no AWS account and no network.

    python template_tool.py iam-findings TEMPLATE SAMPLE_PARAMETERS_JSON
        Each IAM role of the translated template with its policies resolved
        to concrete ARNs (parameters from the sample, every condition
        evaluated with them), and what parliament finds in each policy
        (resource types that do not fit the action, unknown actions, "*"
        where the action can be scoped, malformed statements).

    python template_tool.py resolve TEMPLATE PARAMETERS_JSON
        The translated template as one deployment with these parameters
        would have it: only the resources whose condition holds, with
        conditions, parameters and the sample names resolved (a property
        whose intrinsics are not modelled is left as it is), and their
        DeletionPolicy and UpdateReplacePolicy.

    python template_tool.py stackset TEMPLATE
        The template for service-managed CloudFormation StackSets, which
        reject the SAM transform: the SAM translation, with no Transform and
        no SAR metadata, each function's code read from the parameters
        CodeS3Bucket and CodeS3KeyPrefix (<prefix><function>/bootstrap.zip,
        a bucket in the stack's Region that the organization can read), and
        the state machine definition inline.

    python template_tool.py iam-actions < ACTIONS_JSON
        For each IAM action in the JSON list: whether it exists and which
        resource types it can be scoped to, from parliament's copy of the
        AWS Service Authorization Reference. An action with no resource
        types has no resource-level permissions: only "*" fits it.

Everything is printed to stdout as JSON; errors go to stderr with exit 1.
"""

import json
import os
import sys


def decode(path):
    from cfnlint.decode import decode as cfn_decode

    template, matches = cfn_decode(path)
    if matches:
        raise SystemExit("\n".join(str(m) for m in matches))
    return template


def _localize(template, base_dir):
    """What `sam package` would do: code to S3, state machine definitions inline."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = properties.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                properties["CodeUri"] = f"s3://toilkit-offline-translation/{logical_id}.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine":
            uri = properties.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                with open(os.path.join(base_dir, uri), encoding="utf-8") as f:
                    properties["Definition"] = json.load(f)
                del properties["DefinitionUri"]
    return template


def translate(path, parameters):
    # The translator derives the partition from the Region of its boto session.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = _localize(decode(path), os.path.dirname(os.path.abspath(path)))
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=os.environ["AWS_DEFAULT_REGION"]),
    )
    return translator.translate(
        sam_template=template,
        parameter_values=parameters,
        get_managed_policy_map=lambda: {},
    )


def iam_actions(actions):
    import parliament

    known = {}
    for service in parliament.iam_definition:
        for privilege in service["privileges"]:
            name = f"{service['prefix']}:{privilege['privilege']}".lower()
            types = sorted(
                {r["resource_type"].rstrip("*") for r in privilege["resource_types"]} - {""}
            )
            known[name] = types
    return {
        action: {"known": action.lower() in known, "resource_types": known.get(action.lower(), [])}
        for action in actions
    }


PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "serverlessrepo-toilkit",
    "AWS::URLSuffix": "amazonaws.com",
}

# What Ref and Fn::GetAtt of a resource give, by type, for the sample names.
_ARN = {
    "AWS::Logs::LogGroup": "arn:aws:logs:eu-west-1:123456789012:log-group:{name}:*",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:eu-west-1:123456789012:table/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:eu-west-1:123456789012:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:eu-west-1:123456789012:function:{name}",
    "AWS::Events::Rule": "arn:aws:events:eu-west-1:123456789012:rule/{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:eu-west-1:123456789012:stateMachine:{name}",
    "AWS::IAM::Role": "arn:aws:iam::123456789012:role/{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
}


class Resolver:
    """Evaluates the intrinsic functions of a template for one set of parameters."""

    def __init__(self, template, parameters):
        self.template = template
        self.values = dict(PSEUDO)
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList":
                value = value if isinstance(value, list) else str(value).split(",")
            else:
                value = str(value)
            self.values[name] = value
        self.conditions = {}

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def _name(self, logical_id):
        resource = self.template["Resources"][logical_id]
        props = resource.get("Properties", {})
        for key in ("FunctionName", "LogGroupName", "TableName", "QueueName", "Name", "RoleName", "BucketName"):
            if key in props:
                return self.resolve(props[key])
        return f"{self.values['AWS::StackName']}-{logical_id}-SAMPLE"

    def ref(self, name):
        if name in self.values:
            return self.values[name]
        resource = self.template["Resources"][name]
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{self._name(name)}"
        if kind == "AWS::StepFunctions::StateMachine":
            return _ARN[kind].format(name=self._name(name))
        return self._name(name)

    def get_att(self, logical_id, attribute):
        kind = self.template["Resources"][logical_id]["Type"]
        if attribute == "Arn" and kind in _ARN:
            return _ARN[kind].format(name=self._name(logical_id))
        if attribute == "QueueName":
            return self._name(logical_id)
        raise ValueError(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not modelled")

    def sub(self, text, variables):
        import re

        def one(match):
            key = match.group(1)
            if key in variables:
                return str(variables[key])
            if "." in key:
                return self.get_att(*key.split(".", 1))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, value):
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            out = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        (key, arg), = value.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg
                variables = {k: self.resolve(v) for k, v in variables.items()}
            else:
                text, variables = arg, {}
            return self.sub(text, variables)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no)
        if key == "Fn::Equals":
            a, b = (self.resolve(v) for v in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(v) for v in arg)
        if key == "Fn::Or":
            return any(self.resolve(v) for v in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(str(v) for v in self.resolve(items))
        if key == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(text)).split(delimiter)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        out = {key: self.resolve(arg)}
        return out


NO_VALUE = object()


def _fits_another_type(action, document):
    """parliament reports a mismatch for each resource type an action takes
    (an ALB listener rule does not fit the NLB format); the grant is right
    when every resource of every statement with the action fits one of them."""
    import parliament

    prefix, name = action.split(":", 1)
    service = next(s for s in parliament.iam_definition if s["prefix"] == prefix)
    import re

    formats = {r["resource"]: re.sub(r"\$\{[^}]*\}", "*", r["arn"]) for r in service["resources"]}
    privilege = next(p for p in service["privileges"] if p["privilege"].lower() == name.lower())
    types = [r["resource_type"].rstrip("*") for r in privilege["resource_types"] if r["resource_type"]]
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action not in actions:
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if not any(parliament.is_arn_match(t, formats[t], resource) for t in types if t in formats):
                return False
    return True


def iam_findings(path, parameters):
    from parliament import analyze_policy_string

    template = translate(path, parameters)
    resolver = Resolver(template, parameters)
    report = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        for policy in resource["Properties"].get("Policies", []):
            document = resolver.resolve(policy["PolicyDocument"])
            findings = []
            for f in analyze_policy_string(json.dumps(document)).findings:
                if f.issue == "RESOURCE_MISMATCH":
                    detail = [d for d in f.detail if not _fits_another_type(d["action"], document)]
                    if not detail:
                        continue
                    findings.append({"issue": f.issue, "detail": detail})
                else:
                    findings.append({"issue": f.issue, "detail": f.detail})
            report[f"{logical_id}/{resolver.resolve(policy['PolicyName'])}"] = {
                "document": document,
                "findings": findings,
            }
    return report


def resolve_template(path, parameters):
    template = translate(path, parameters)
    resolver = Resolver(template, parameters)
    resources = {}
    for logical_id, resource in template["Resources"].items():
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        out = {k: v for k, v in resource.items() if k not in ("Properties", "Condition")}
        properties = {}
        for name, value in resource.get("Properties", {}).items():
            try:
                value = resolver.resolve(value)
            except (ValueError, KeyError):
                pass
            if value is not NO_VALUE:
                properties[name] = value
        out["Properties"] = properties
        resources[logical_id] = out
    return {"Resources": resources}


def stackset(path):
    source = decode(path)
    binaries = {
        logical_id: resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        for logical_id, resource in source.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    template = translate(path, {})
    template.pop("Transform", None)
    metadata = template.get("Metadata", {})
    metadata.pop("AWS::ServerlessRepo::Application", None)
    if not metadata:
        template.pop("Metadata", None)
    version = source["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"]
    template["Parameters"]["CodeS3Bucket"] = {
        "Type": "String",
        "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        "ConstraintDescription": "An S3 bucket name.",
        "Description": "Bucket, in the Region of the stack instance, holding <CodeS3KeyPrefix><function>/bootstrap.zip; "
        "its policy must let the organization's accounts read them (aws:PrincipalOrgID).",
    }
    template["Parameters"]["CodeS3KeyPrefix"] = {
        "Type": "String",
        "Default": f"toilkit/{version}/",
        "AllowedPattern": "^[A-Za-z0-9!_.*'()/=-]{0,512}$",
        "Description": "Key prefix of the function zips in CodeS3Bucket.",
    }
    for logical_id, binary in binaries.items():
        function = template["Resources"][logical_id]
        function["Properties"]["Code"] = {
            "S3Bucket": {"Ref": "CodeS3Bucket"},
            "S3Key": {"Fn::Sub": "${CodeS3KeyPrefix}" + binary + "/bootstrap.zip"},
        }
    return template


def main(argv):
    if len(argv) >= 2 and argv[0] == "decode":
        result = decode(argv[1])
    elif len(argv) >= 2 and argv[0] == "translate":
        parameters = json.loads(argv[2]) if len(argv) > 2 else {}
        result = translate(argv[1], parameters)
    elif len(argv) >= 3 and argv[0] == "iam-findings":
        result = iam_findings(argv[1], json.loads(argv[2]))
    elif len(argv) >= 3 and argv[0] == "resolve":
        result = resolve_template(argv[1], json.loads(argv[2]))
    elif len(argv) >= 2 and argv[0] == "stackset":
        result = stackset(argv[1])
    elif argv[:1] == ["iam-actions"]:
        result = iam_actions(json.load(sys.stdin))
    else:
        raise SystemExit(__doc__)
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SystemExit:
        raise
    except Exception as error:  # the test shows this text to whoever broke it
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
