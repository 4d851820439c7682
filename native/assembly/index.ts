export { maxPoolGrad } from "./pool-grad";
export { im2colT } from "./im2col";
