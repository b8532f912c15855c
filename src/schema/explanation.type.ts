import { Field, Float, ObjectType } from 'type-graphql';
import { Driver } from './driver.type';

@ObjectType({
  description:
    'Why the model answered as it did: the physical quantities the failure modes depend on, and how far each reading moves the failure probability.',
  simpleResolvers: true,
})
export class Explanation {
  @Field(() => Float, {
    description: 'Process temperature minus air temperature, in kelvin (K). Heat dissipation fails when it is small at low speed.',
  })
  temperatureDifference!: number;

  @Field(() => Float, {
    description: 'Mechanical power, torque times angular speed, in watts (W). Power failure when too low or too high.',
  })
  power!: number;

  @Field(() => Float, {
    description: 'Strain, tool wear times torque, in minute-newton-metres (min·Nm). Overstrain when too high for the product type.',
  })
  strain!: number;

  @Field(() => [Driver], { description: 'One driver per numeric reading (five), largest absolute effect first.' })
  drivers!: Driver[];
}
